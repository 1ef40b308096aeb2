import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../../src/server/auth.js';
import { ChannelAuthorizer, isChannelName, type ChannelAction, type ChannelRule } from '../../../src/server/channels.js';

const identity = (userId: string): Identity => ({ userId, roles: [], permissions: [], claims: {} });
const actions: readonly ChannelAction[] = ['subscribe', 'publish', 'presence'];

/** A `*` inside a segment: any characters of that segment. */
function globMatches(glob: string, text: string): boolean {
  const [first = '', ...rest] = glob.split('*');
  if (!text.startsWith(first)) return false;
  let at = first.length;
  for (let i = 0; i < rest.length; i++) {
    const piece = rest[i]!;
    if (i === rest.length - 1) return text.length - at >= piece.length && text.endsWith(piece);
    const found = text.indexOf(piece, at);
    if (found < 0) return false;
    at = found + piece.length;
  }
  return at === text.length;
}

/** The README's semantics, written independently: as many segments; `*` one segment; `{userId}` the caller; a glob within its segment. */
function referenceMatches(pattern: string, channel: string, userId: string): boolean {
  const wanted = pattern.split(':');
  const parts = channel.split(':');
  if (wanted.length !== parts.length) return false;
  return wanted.every((segment, i) => {
    const part = parts[i]!;
    if (segment === '{userId}') return part === userId;
    if (segment === '*') return part.length > 0;
    if (segment.includes('*')) return globMatches(segment, part);
    return segment === part;
  });
}

const words = ['user', 'chat', 'alice', 'bob', 'room-1', 'room-22', 'x'];
const patternSegment = fc.oneof(fc.constantFrom(...words), fc.constantFrom('*', '{userId}', 'room-*', '*-1', 'r*m-2*'));
const pattern = fc.array(patternSegment, { minLength: 2, maxLength: 3 }).map((segments) => segments.join(':'));
const channel = fc.array(fc.constantFrom(...words), { minLength: 2, maxLength: 3 }).map((segments) => segments.join(':'));
const rule = fc.record({ pattern, subscribe: fc.boolean(), publish: fc.boolean(), presence: fc.boolean() });

describe('channel authorization as a property: every action, every segment count', () => {
  it('allows an action exactly when some rule whose pattern matches (by the README’s semantics) grants it', () => {
    fc.assert(
      fc.property(fc.array(rule, { minLength: 1, maxLength: 4 }), fc.constantFrom('alice', 'bob'), channel, fc.constantFrom(...actions), (rules, userId, ch, action) => {
        const expected = rules.some((candidate) => candidate[action] && referenceMatches(candidate.pattern, ch, userId));
        expect(new ChannelAuthorizer(rules).authorize(identity(userId), ch, action).ok).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('a trailing * never matches zero segments nor two: user:{userId}:* and user:*:* grant nothing on user:<id> nor user:<id>:a:b-like channels', () => {
    const rules: ChannelRule[] = [
      { pattern: 'user:{userId}:*', subscribe: true, publish: true, presence: true },
      { pattern: 'user:*:*', subscribe: true, publish: true, presence: true },
      { pattern: 'chat:*', subscribe: true, publish: true, presence: true },
    ];
    const authorizer = new ChannelAuthorizer(rules);
    const segment = fc.stringMatching(/^[A-Za-z0-9_.@=+~|-]{1,10}$/);
    fc.assert(
      fc.property(segment, segment, segment, fc.constantFrom(...actions), (caller, owner, sub, action) => {
        expect(authorizer.authorize(identity(caller), `user:${owner}`, action).ok).toBe(false);
        expect(authorizer.authorize(identity(caller), `chat:${owner}:${sub}`, action).ok).toBe(false);
        expect(authorizer.authorize(identity(caller), `user:${owner}:${sub}`, action).ok).toBe(true);
        expect(authorizer.authorize(identity(caller), `chat:${owner}`, action).ok).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('the reference glob agrees with the examples of the README', () => {
    expect([globMatches('room-*', 'room-7'), globMatches('room-*', 'room'), globMatches('*-1', 'room-1'), globMatches('r*m-2*', 'room-22'), globMatches('r*m-2*', 'room-1')]).toEqual([
      true,
      false,
      true,
      true,
      false,
    ]);
  });

  it('matches the other characters of a glob segment literally: room.* is not room?*', () => {
    const authorizer = new ChannelAuthorizer([{ pattern: 'chat:room.*', subscribe: true }]);
    expect(['chat:room.1', 'chat:roomx1', 'chat:room'].map((ch) => authorizer.authorize(identity('alice'), ch, 'subscribe').ok)).toEqual([true, false, false]);
  });

  it('matches a glob segment whole: room-*-a matches room-1-a, not room-1-ab', () => {
    const authorizer = new ChannelAuthorizer([{ pattern: 'chat:room-*-a', subscribe: true }]);
    expect(['chat:room-1-a', 'chat:room-1-ab'].map((ch) => authorizer.authorize(identity('alice'), ch, 'subscribe').ok)).toEqual([true, false]);
  });

  it('matches a glob of many stars against the longest channel name a client may send in one pass: no name stalls the server', () => {
    const authorizer = new ChannelAuthorizer([{ pattern: 'chat:a*a*a*a*a*a*b', subscribe: true }]);
    const long = 'a'.repeat(194);
    expect([`chat:${long}`, `chat:${long}b`, `chat:${long}ba`].map((ch) => authorizer.authorize(identity('alice'), ch, 'subscribe').ok)).toEqual([false, true, false]);
  });

  it('gives each piece of a glob its own characters: a piece never shares them with the piece before, nor with the end', () => {
    const cases: Array<[string, string, boolean]> = [
      ['ab*ba', 'aba', false],
      ['ab*ba', 'abba', true],
      ['a*b*b', 'ab', false],
      ['a*b*b', 'abb', true],
      ['x*aa*aa*y', 'xaaay', false],
      ['x*aa*aa*y', 'xaaaay', true],
    ];
    const granted = cases.map(([glob, segment]) => new ChannelAuthorizer([{ pattern: `chat:${glob}`, subscribe: true }]).authorize(identity('alice'), `chat:${segment}`, 'subscribe').ok);
    expect(granted).toEqual(cases.map(([, , expected]) => expected));
    expect(cases.map(([glob, segment]) => globMatches(glob, segment))).toEqual(cases.map(([, , expected]) => expected));
  });

  it('never matches an empty segment with *', () => {
    const authorizer = new ChannelAuthorizer([{ pattern: 'chat:*', subscribe: true }]);
    expect(['chat:', 'chat:a'].map((ch) => authorizer.authorize(identity('alice'), ch, 'subscribe').ok)).toEqual([false, true]);
  });

  it('grants by a function only when it returns true: any other value is no grant', () => {
    const answers: unknown[] = [true, 1, 'yes', {}, false];
    const granted = answers.map((answer) => new ChannelAuthorizer([{ pattern: 'chat:*', subscribe: () => answer as boolean }]).authorize(identity('alice'), 'chat:a', 'subscribe').ok);
    expect(granted).toEqual([true, false, false, false, false]);
  });

  it('restricts only publishes by a rule’s events: subscribe and presence are granted whatever they list', () => {
    const authorizer = new ChannelAuthorizer([{ pattern: 'chat:*', subscribe: true, presence: true, publish: true, events: ['typing_start'] }]);
    expect((['subscribe', 'presence'] as const).map((action) => authorizer.authorize(identity('alice'), 'chat:a', action).ok)).toEqual([true, true]);
  });

  it('takes channel names of up to 200 characters, not more', () => {
    expect([isChannelName(`chat:${'a'.repeat(195)}`), isChannelName(`chat:${'a'.repeat(196)}`)]).toEqual([true, false]);
  });

  it('denies an action whose function grant throws', () => {
    const authorizer = new ChannelAuthorizer([
      {
        pattern: 'chat:*',
        subscribe: () => {
          throw new Error('rule failed');
        },
      },
    ]);
    expect(authorizer.authorize(identity('alice'), 'chat:a', 'subscribe')).toEqual({ ok: false, reason: 'subscribe is not allowed on this channel' });
  });

  it('grants a roles grant to a caller holding any one of its roles', () => {
    const authorizer = new ChannelAuthorizer([{ pattern: 'club:*', subscribe: { roles: ['member', 'admin'] } }]);
    const holding = (roles: string[]) => authorizer.authorize({ ...identity('alice'), roles }, 'club:a', 'subscribe').ok;
    expect([holding(['member']), holding(['admin', 'guest']), holding(['guest']), holding([])]).toEqual([true, true, false, false]);
  });

  it('names the action no rule grants, and the event when a rule grants the action for other events only', () => {
    const authorizer = new ChannelAuthorizer([
      { pattern: 'chat:*', subscribe: true, publish: true, events: ['message', 'typing_start'] },
      { pattern: 'news:*', subscribe: true },
    ]);
    expect(authorizer.authorize(identity('alice'), 'news:a', 'publish')).toEqual({ ok: false, reason: 'publish is not allowed on this channel' });
    expect(authorizer.authorize(identity('alice'), 'chat:a', 'presence')).toEqual({ ok: false, reason: 'presence is not allowed on this channel' });
    expect(authorizer.authorize(identity('alice'), 'chat:a', 'publish', 'edit')).toEqual({ ok: false, reason: 'event "edit" is not allowed on this channel' });
    expect(authorizer.authorize(identity('alice'), 'chat:a', 'publish')).toEqual({ ok: true });
  });

  it('grants a permissions grant only to a caller holding every one of its permissions', () => {
    const authorizer = new ChannelAuthorizer([{ pattern: 'ops:*', publish: { permissions: ['ops:write', 'ops:audit'] } }]);
    const holding = (permissions: string[]) => authorizer.authorize({ ...identity('alice'), permissions }, 'ops:a', 'publish').ok;
    expect([holding(['ops:write', 'ops:audit']), holding(['ops:audit', 'x', 'ops:write']), holding(['ops:write']), holding([])]).toEqual([true, true, false, false]);
  });
});
