import { expect, it } from 'vitest';
import { parseClientFrame } from '../../../src/server/schema.js';

const bounds = { maxDepth: 32, maxItems: 10_000 };
const parse = (frame: unknown) => parseClientFrame(JSON.stringify(frame), bounds);
const issuePaths = (frame: unknown) => {
  const parsed = parse(frame);
  return parsed.ok || 'notYet' in parsed ? [] : (parsed.details as { issues: { path: string }[] }).issues.map((issue) => issue.path);
};

it('reads an auth token of up to 16,384 characters, and refuses a longer one, naming the token', () => {
  expect(parse({ type: 'auth', token: 't'.repeat(16_384) }).ok).toBe(true);
  expect(issuePaths({ type: 'auth', token: 't'.repeat(16_385) })).toEqual(['token']);
});

it('reads an event name of up to 64 characters, and refuses a longer one, naming the event', () => {
  expect(parse({ type: 'publish', ch: 'chat:a', data: 1, event: 'e'.repeat(64) }).ok).toBe(true);
  expect(issuePaths({ type: 'publish', ch: 'chat:a', data: 1, event: 'e'.repeat(65) })).toEqual(['event']);
});

it('reads presence meta whose keys have up to 64 characters, and refuses a longer key, naming the meta', () => {
  expect(parse({ type: 'presence', ch: 'chat:a', action: 'join', meta: { ['k'.repeat(64)]: 1 } }).ok).toBe(true);
  expect(issuePaths({ type: 'presence', ch: 'chat:a', action: 'join', meta: { ['k'.repeat(65)]: 1 } })).toEqual(['meta']);
});

it('refuses presence meta that is not an object: an array, null, a string', () => {
  for (const meta of [[{ name: 'Ann' }], null, 'Ann']) {
    expect(issuePaths({ type: 'presence', ch: 'chat:a', action: 'join', meta }), JSON.stringify(meta)).toEqual(['meta']);
  }
});

it('echoes the id of a frame it refuses when the id is a string of up to 128 characters, and no other id', () => {
  const refused = (id: unknown) => parse({ type: 'publish', ch: 'no channel', id, data: 1 });
  expect(refused('i'.repeat(128))).toMatchObject({ ok: false, id: 'i'.repeat(128) });
  for (const id of ['i'.repeat(129), 42, '']) expect(refused(id), String(id)).not.toHaveProperty('id');
});

it('names an unknown frame type by its first 40 characters, however long it is', () => {
  const type = 'x'.repeat(40);
  expect(parse({ type: `${type}${'y'.repeat(10_000)}` })).toEqual({ ok: false, message: `unknown frame type "${type}"`, details: { type } });
});

it('leaves a known frame type that is not yet accepted unvalidated, naming its type', () => {
  const accepted = new Set(['auth', 'ping'] as const);
  expect(parseClientFrame(JSON.stringify({ type: 'subscribe', ch: 42 }), bounds, accepted)).toEqual({ ok: false, notYet: true, type: 'subscribe' });
  expect(parseClientFrame(JSON.stringify({ type: 'ping', ts: 'now' }), bounds, accepted)).toMatchObject({ ok: false, details: { issues: [{ path: 'ts' }] } });
});

it('reads a typing frame only with a boolean, and a presence frame only with join, leave or list', () => {
  expect(issuePaths({ type: 'typing', ch: 'chat:a', typing: 1 })).toEqual(['typing']);
  for (const action of ['join', 'leave', 'list']) expect(parse({ type: 'presence', ch: 'chat:a', action }).ok, action).toBe(true);
  expect(issuePaths({ type: 'presence', ch: 'chat:a', action: 'kick' })).toEqual(['action']);
});

it('refuses a channel name longer than 200 characters, though it has the shape type:id', () => {
  expect(parse({ type: 'subscribe', ch: `chat:${'x'.repeat(195)}` }).ok).toBe(true);
  expect(issuePaths({ type: 'subscribe', ch: `chat:${'x'.repeat(196)}` })).toEqual(['ch']);
});

it('refuses a publish without data, naming the data and echoing its id; any JSON value, null and false too, is data', () => {
  const parsed = parse({ type: 'publish', ch: 'chat:a', id: 'p-1' });
  expect(parsed).toMatchObject({ ok: false, message: 'invalid "publish" frame', id: 'p-1' });
  expect(issuePaths({ type: 'publish', ch: 'chat:a' })).toEqual(['data']);
  for (const data of [null, false, 0, '', [], {}]) expect(parse({ type: 'publish', ch: 'chat:a', data }).ok, JSON.stringify(data)).toBe(true);
});
