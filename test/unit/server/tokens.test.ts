import { decodeProtectedHeader } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { createAuthenticator } from '../../../src/server/auth.js';
import { dependencies } from '../../../src/server/dependencies.js';
import { InvalidOptionError, createToken } from '../../../src/server/index.js';
import { resolveOptions } from '../../../src/server/options.js';

/** createToken: a development and test token the reference server accepts, with the claims it reads. */

const secret = 'a-development-secret-of-32-bytes!';
const check = (options: Parameters<typeof createAuthenticator>[0] = { jwtSecret: secret, clockToleranceSec: 0 }) => createAuthenticator(options);

describe('createToken', () => {
  it('mints an HS256 JWT whose sub, roles and permissions the server reads as the identity', async () => {
    const token = await createToken({ secret, userId: 'alice', roles: ['admin'], permissions: ['publish:orders'] });
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    const identity = await check()(token);
    expect(identity).toMatchObject({ userId: 'alice', roles: ['admin'], permissions: ['publish:orders'] });
  });

  it('expires after expiresInSec (one hour by default), which the server turns into the session end', async () => {
    const now = Date.now();
    const hour = await check()(await createToken({ secret, userId: 'bob' }));
    expect(hour.expiresAt! - now).toBeGreaterThan(3_590_000);
    expect(hour.expiresAt! - now).toBeLessThanOrEqual(3_601_000);
    const minute = await check()(await createToken({ secret, userId: 'bob', expiresInSec: 60 }));
    expect(minute.expiresAt! - now).toBeLessThanOrEqual(61_000);
    await expect(check()(await createToken({ secret, userId: 'bob', expiresInSec: -10 }))).rejects.toThrow('token expired');
  });

  it.each([
    ['roles', 'admin'],
    ['roles', ['admin', 7]],
    ['permissions', 'publish:orders'],
  ])('refuses %s that are not an array of strings (%j) with InvalidOptionError, rather than minting the letters as roles', async (option, value) => {
    const minted = createToken({ secret, userId: 'alice', [option]: value } as never);
    await expect(minted).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(minted).rejects.toMatchObject({ option });
  });

  it('carries issuer and audience when given, as a server configured with them requires', async () => {
    const strict = check({ jwtSecret: secret, clockToleranceSec: 0, issuer: 'https://id.example.com', audience: 'chat' });
    await expect(strict(await createToken({ secret, userId: 'carol' }))).rejects.toThrow();
    const identity = await strict(await createToken({ secret, userId: 'carol', issuer: 'https://id.example.com', audience: 'chat' }));
    expect(identity.userId).toBe('carol');
  });

  it('is refused by a server with another secret', async () => {
    const token = await createToken({ secret, userId: 'dave' });
    await expect(check({ jwtSecret: 'another-secret-that-is-32-bytes!!', clockToleranceSec: 0 })(token)).rejects.toThrow('invalid signature');
  });

  it('rejects a secret the server would refuse, and an empty user id, with InvalidOptionError that shows no secret', async () => {
    const short = createToken({ secret: 'short-secret', userId: 'erin' });
    await expect(short).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(short).rejects.toMatchObject({ option: 'secret' });
    await expect(short).rejects.not.toThrow(/short-secret/);
    await expect(createToken({ secret, userId: '' })).rejects.toMatchObject({ option: 'userId' });
  });

  it("rejects a user id that is not a single channel segment (no ':', at most 128 of the channel characters), as the server would", async () => {
    await expect(createToken({ secret, userId: 'alice:inbox' })).rejects.toMatchObject({ option: 'userId' });
    await expect(createToken({ secret, userId: 'x'.repeat(129) })).rejects.toMatchObject({ option: 'userId' });
  });

  it('rejects a secret that is not set (an unset environment variable) with InvalidOptionError that says so', async () => {
    const unset = createToken({ secret: process.env.SOCKETCHART_SECRET_THAT_IS_NOT_SET, userId: 'frank' });
    await expect(unset).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(unset).rejects.toMatchObject({ option: 'secret', received: 'undefined (no secret)' });
  });
});

it('accepts a secret of exactly 32 bytes, as the server does, and refuses one of 31', async () => {
  expect(await check({ jwtSecret: 'x'.repeat(32), clockToleranceSec: 0 })(await createToken({ secret: 'x'.repeat(32), userId: 'gina' }))).toMatchObject({ userId: 'gina' });
  await expect(createToken({ secret: new Uint8Array(32), userId: 'gina' })).resolves.toEqual(expect.any(String));
  await expect(createToken({ secret: 'x'.repeat(31), userId: 'gina' })).rejects.toMatchObject({ option: 'secret', received: 'a secret of 31 bytes' });
});

it('counts a string secret in UTF-8 bytes, as the server does: 16 two-byte characters (32 bytes) are taken by both, 31 bytes refused by both alike', async () => {
  const twoByte = 'é'.repeat(16);
  const token = await createToken({ secret: twoByte, userId: 'gina' });
  expect(() => resolveOptions({ port: 0, auth: { jwtSecret: twoByte } })).not.toThrow();
  expect(await check({ jwtSecret: twoByte, clockToleranceSec: 0 })(token)).toMatchObject({ userId: 'gina' });

  const short = `${'é'.repeat(15)}x`;
  const expectation = 'a string of at least 32 bytes (UTF-8) or a Uint8Array of at least 32 bytes';
  const refusals = [await createToken({ secret: short, userId: 'gina' }).catch((error: unknown) => error)];
  try {
    resolveOptions({ port: 0, auth: { jwtSecret: short } });
  } catch (error) {
    refusals.push(error);
  }
  for (const refusal of refusals) expect(refusal).toBeInstanceOf(InvalidOptionError);
  expect(refusals).toMatchObject([
    { option: 'secret', expectation, received: 'a secret of 31 bytes' },
    { option: 'auth.jwtSecret', expectation },
  ]);
});

it('rejects an expiresInSec that is not a finite number with InvalidOptionError naming it', async () => {
  for (const expiresInSec of [Number.NaN, Number.POSITIVE_INFINITY]) {
    await expect(createToken({ secret, userId: 'hank', expiresInSec })).rejects.toMatchObject({ option: 'expiresInSec' });
  }
});

it('asks for jose by name for createToken(), so a missing install is reported as such', async () => {
  const required = vi.spyOn(dependencies, 'require').mockImplementation(() => {
    throw new Error('jose is not installed');
  });
  try {
    await expect(createToken({ secret, userId: 'ivy' })).rejects.toThrow('jose is not installed');
    expect(required).toHaveBeenCalledWith('jose', 'createToken()');
  } finally {
    required.mockRestore();
  }
});
