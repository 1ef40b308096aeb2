import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { SignJWT } from 'jose';
import { createAuthenticator } from '../../../src/server/auth.js';

const NOW = 1_700_000_000_000;
const sessionEnding = (expiresAt: number, clockToleranceSec: number) => createAuthenticator({ verify: () => ({ userId: 'alice', expiresAt }), clockToleranceSec });

beforeEach(() => {
  vi.useFakeTimers({ now: NOW, toFake: ['Date'] });
});

afterEach(() => {
  vi.useRealTimers();
});

it('accepts a verify() session until its expiresAt', async () => {
  await expect(sessionEnding(NOW + 1, 0)('session')).resolves.toMatchObject({ userId: 'alice', expiresAt: NOW + 1 });
});

it('refuses a verify() session from its expiresAt on as an expired token', async () => {
  await expect(sessionEnding(NOW, 0)('session')).rejects.toThrow('token expired');
  await expect(sessionEnding(NOW - 60_000, 0)('session')).rejects.toThrow('token expired');
});

it('accepts a verify() session past its expiresAt by less than clockToleranceSec, and refuses it once the tolerance has passed too', async () => {
  await expect(sessionEnding(NOW - 29_999, 30)('session')).resolves.toMatchObject({ userId: 'alice' });
  await expect(sessionEnding(NOW - 30_000, 30)('session')).rejects.toThrow('token expired');
});

it("refuses a verify() user id that is not a single channel segment (no ':', at most 128 of the channel characters)", async () => {
  for (const userId of ['alice:inbox', 'a b', 'é', 'x'.repeat(129), '']) {
    await expect(createAuthenticator({ verify: () => ({ userId }), clockToleranceSec: 0 })('token')).rejects.toThrow(/user id/);
  }
  await expect(createAuthenticator({ verify: () => ({ userId: 'auth0|a.b@c=d+e~f_g-h' }), clockToleranceSec: 0 })('token')).resolves.toMatchObject({ userId: 'auth0|a.b@c=d+e~f_g-h' });
});

it('refuses with the message verify() threw, with every run of 8 or more of the token’s characters in it redacted', async () => {
  const token = 'opaque-session-4f9c2a7e1b';
  const refusal = (thrown: (token: string) => string) =>
    createAuthenticator({
      verify: (presented) => {
        throw new Error(thrown(presented));
      },
      clockToleranceSec: 0,
    })(token);
  await expect(refusal((t) => `bad token ${t}`)).rejects.toThrow(/^bad token \[redacted\]$/);
  await expect(refusal((t) => `Unexpected token 'o', "${t.slice(0, 10)}"... is not valid JSON`)).rejects.toThrow(/^Unexpected token 'o', "\[redacted\]"\.\.\. is not valid JSON$/);
  await expect(refusal((t) => `unknown session ${t.slice(7, 15)} (${t.slice(-8)})`)).rejects.toThrow(/^unknown session \[redacted\] \(\[redacted\]\)$/);
  await expect(refusal((t) => `session ${t.slice(0, 7)} is unknown`)).rejects.toThrow(/^session opaque- is unknown$/);
});

it('refuses with the message verify() threw, with a token of 4 to 7 characters redacted where it appears whole', async () => {
  const refusal = (token: string) =>
    createAuthenticator({
      verify: (presented) => {
        throw new Error(`no session ${presented}, nor ${presented.slice(0, 3)}`);
      },
      clockToleranceSec: 0,
    })(token);
  await expect(refusal('k3y9')).rejects.toThrow(/^no session \[redacted\], nor k3y$/);
  await expect(refusal('k3y9z7q')).rejects.toThrow(/^no session \[redacted\], nor k3y$/);
});

it('with requireExp, refuses a verify() session without expiresAt, and accepts one with it', async () => {
  const authenticate = (expiresAt?: number) => createAuthenticator({ verify: () => ({ userId: 'alice', ...(expiresAt === undefined ? {} : { expiresAt }) }), clockToleranceSec: 0, requireExp: true })('session');
  await expect(authenticate()).rejects.toThrow('token has no expiry');
  await expect(authenticate(NOW + 60_000)).resolves.toMatchObject({ userId: 'alice', expiresAt: NOW + 60_000 });
});

it('with requireExp, refuses a JWT without exp, and accepts one with it; without requireExp, accepts both', async () => {
  const jwtSecret = 'a-secret-of-at-least-32-bytes-length!';
  const key = new TextEncoder().encode(jwtSecret);
  const sign = (claims: Record<string, unknown>) => new SignJWT({ sub: 'alice', ...claims }).setProtectedHeader({ alg: 'HS256' }).sign(key);
  const [lasting, expiring] = [await sign({}), await sign({ exp: Math.floor(NOW / 1000) + 60 })];
  const strict = createAuthenticator({ jwtSecret, clockToleranceSec: 0, requireExp: true });
  await expect(strict(lasting)).rejects.toThrow('token has no expiry');
  await expect(strict(expiring)).resolves.toMatchObject({ userId: 'alice' });
  const lenient = createAuthenticator({ jwtSecret, clockToleranceSec: 0 });
  await expect(lenient(lasting)).resolves.toMatchObject({ userId: 'alice' });
});

it('verifies with the jwtSecret bytes it was given, not with what the caller later writes into that buffer', async () => {
  const jwtSecret = Buffer.from('a-secret-of-at-least-32-bytes-length!');
  const authenticate = createAuthenticator({ jwtSecret, clockToleranceSec: 0 });
  const genuine = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).sign(Uint8Array.from(jwtSecret));
  jwtSecret.fill(0);
  const forged = await new SignJWT({ sub: 'mallory' }).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(jwtSecret.length));
  await expect(authenticate(forged)).rejects.toThrow('invalid signature');
  await expect(authenticate(genuine)).resolves.toMatchObject({ userId: 'alice' });
});
