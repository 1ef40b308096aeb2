import { expect, it } from 'vitest';
import { isUserId } from '../../../src/server/user-id.js';

it("accepts 1 to 128 of the channel characters, such as an identity provider's ids", () => {
  for (const id of ['a', 'auth0|5f7c.x@y=z+w~v_u-t', 'x'.repeat(128)]) expect(isUserId(id), id).toBe(true);
});

it('refuses a wildcard, a channel separator or any other character, so an id is always one literal channel segment', () => {
  for (const id of ['*', 'al*ce', 'alice:inbox', 'a b', 'a/b', '{userId}', 'é', '', 'x'.repeat(129)]) expect(isUserId(id), id).toBe(false);
});

it('refuses what is not a string, even when its text would pass', () => {
  for (const id of [123, ['alice'], { toString: () => 'alice' }, null, undefined]) expect(isUserId(id), String(id)).toBe(false);
});
