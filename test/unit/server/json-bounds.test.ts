import { expect, it } from 'vitest';
import { boundsProblem, hasInexactInteger } from '../../../src/server/json-bounds.js';

const bounds = { maxDepth: 8, maxItems: 100 };
const problemOf = (text: string) => boundsProblem(JSON.parse(text), bounds, text);

it('finds an integer literal that a double cannot hold exactly, at any depth and sign, or cannot hold at all', () => {
  expect(hasInexactInteger(`[${'9'.repeat(400)}]`)).toBe(true);
  expect(hasInexactInteger('9007199254740993')).toBe(true);
  expect(hasInexactInteger('[1,{"a":[-9007199254740993]}]')).toBe(true);
  expect(hasInexactInteger('{"id":12345678901234567891}')).toBe(true);
});

it('passes integers a double holds exactly, however long, and numbers written with a fraction or an exponent', () => {
  expect(hasInexactInteger('[9007199254740992,-9007199254740991,18446744073709551616,1000000000000000000000]')).toBe(false);
  expect(hasInexactInteger('[9007199254740993.0,9007199254740993e0,1.2345678901234567891E+19,12345678901234567891e-2]')).toBe(false);
});

it('skips the digits inside strings, escaped quotes included', () => {
  expect(hasInexactInteger('["9007199254740993"]')).toBe(false);
  expect(hasInexactInteger('{"a\\"9007199254740993":"\\\\","b":"x\\"9007199254740993"}')).toBe(false);
  expect(hasInexactInteger('{"a\\\\":9007199254740993}')).toBe(true);
  expect(hasInexactInteger('["x90071992547409931","id-12345678901234567891"]')).toBe(false);
});

it('names an inexact integer as a problem of the frame, beside a number out of range', () => {
  expect(problemOf('{"data":{"n":9007199254740993}}')).toMatch(/cannot hold exactly.*as a string/);
  expect(problemOf('9007199254740993')).toMatch(/cannot hold exactly/);
  expect(problemOf('{"data":[9007199254740992,"9007199254740993"]}')).toBeUndefined();
  expect(problemOf('{"data":{"x":1e400}}')).toMatch(/beyond the range of a double/);
});

it('allows nesting down to maxDepth levels (the frame is level 1) and refuses one more, in objects and arrays', () => {
  const depth = { maxDepth: 3, maxItems: 100 };
  expect(boundsProblem(JSON.parse('{"a":{"b":[1]}}'), depth, '')).toBeUndefined();
  expect(boundsProblem(JSON.parse('{"a":{"b":[[1]]}}'), depth, '')).toBe('nested deeper than 3 levels');
  expect(boundsProblem(JSON.parse('[[[{}]]]'), depth, '')).toBe('nested deeper than 3 levels');
  expect(boundsProblem(JSON.parse('[[["deep strings and numbers are leaves", 1]]]'), depth, '')).toBeUndefined();
});

it('counts keys and array elements over the whole value: maxItems passes, one more is refused', () => {
  const items = { maxDepth: 8, maxItems: 6 };
  expect(boundsProblem(JSON.parse('{"a":[1,2],"b":{"c":3,"d":4}}'), items, '')).toBeUndefined();
  expect(boundsProblem(JSON.parse('{"a":[1,2],"b":{"c":3,"d":4,"e":5}}'), items, '')).toBe('more than 6 keys and array elements');
  expect(boundsProblem(JSON.parse('[[1,2,3],[4,5]]'), { maxDepth: 8, maxItems: 7 }, '')).toBeUndefined();
  expect(boundsProblem(JSON.parse('[[1,2,3],[4,5,6]]'), { maxDepth: 8, maxItems: 7 }, '')).toBe('more than 7 keys and array elements');
});

it('refuses an infinite number wherever it is, the value itself included', () => {
  expect(problemOf('1e400')).toMatch(/beyond the range of a double/);
  expect(problemOf('[0,[-1e999]]')).toMatch(/beyond the range of a double/);
  expect(problemOf('[1.7976931348623157e308]')).toBeUndefined();
});

it('reads the whole of a number written with a fraction or an exponent as one literal, never its digits as an integer', () => {
  expect(hasInexactInteger('[0.12345678901234567891]')).toBe(false);
  expect(hasInexactInteger('[1e-12345678901234567891]')).toBe(false);
  expect(hasInexactInteger('[9007199254740993E0,9007199254740993e+0,1.5E-9007199254740993]')).toBe(false);
  expect(hasInexactInteger('[0.5,9007199254740993]')).toBe(true);
  expect(hasInexactInteger('{"a":1.5e3,"b":-9007199254740993}')).toBe(true);
});

it('tells an exact integer from an inexact one digit by digit, 16 digits and more', () => {
  expect(hasInexactInteger('[1000000000000001]')).toBe(false);
  expect(hasInexactInteger('[-9007199254740993]')).toBe(true);
  expect(hasInexactInteger('[90071992547409920]')).toBe(false);
  expect(hasInexactInteger('[90071992547409921]')).toBe(true);
});

it('passes a value that is not an object or an array as it is: null, a string longer than maxItems, a number', () => {
  expect(['null', JSON.stringify('x'.repeat(500)), '12', 'true'].map(problemOf)).toEqual([undefined, undefined, undefined, undefined]);
});

it('reads a number with a fraction or an exponent that ends the text to its end', () => {
  expect(problemOf('12345678901234567.5')).toBeUndefined();
  expect(hasInexactInteger('12345678901234567e1')).toBe(false);
  expect(hasInexactInteger('12345678901234567')).toBe(true);
});
