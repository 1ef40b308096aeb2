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
});

it('names an inexact integer as a problem of the frame, beside a number out of range', () => {
  expect(problemOf('{"data":{"n":9007199254740993}}')).toMatch(/cannot hold exactly.*as a string/);
  expect(problemOf('9007199254740993')).toMatch(/cannot hold exactly/);
  expect(problemOf('{"data":[9007199254740992,"9007199254740993"]}')).toBeUndefined();
  expect(problemOf('{"data":{"x":1e400}}')).toMatch(/beyond the range of a double/);
});
