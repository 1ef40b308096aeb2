import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/protocol/errors.js';
import { createServer, type ServerOptions } from '../../../src/server/index.js';
import { resolveOptions } from '../../../src/server/options.js';

const SECRET = 'a-secret-that-is-at-least-thirty-two-bytes-long';
const base = (): ServerOptions => ({ port: 0, auth: { jwtSecret: SECRET } });

function refusal(patch: Record<string, unknown>): InvalidOptionError {
  try {
    void createServer({ ...base(), ...patch } as ServerOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error(`accepted ${JSON.stringify(patch)}`);
}

describe('server options: every refusal names the option, says what was expected and what was received, in plain words', () => {
  it.each([
    [{ port: 'abc' }, 'Invalid option `port`: expected an integer in [0, 65535], received "abc"'],
    [{ port: 70_000 }, 'Invalid option `port`: expected an integer in [0, 65535], received 70000'],
    [{ port: 1.5 }, 'Invalid option `port`: expected an integer in [0, 65535], received 1.5'],
    [{ port: undefined }, 'Invalid option `port`: expected a port (or a `server` to attach to), received undefined'],
    [{ auth: { jwtSecret: 12345 } }, 'Invalid option `auth.jwtSecret`: expected a string of at least 32 bytes (UTF-8) or a Uint8Array of at least 32 bytes, received a number'],
    [{ auth: {} }, 'Invalid option `auth`: expected `auth.jwtSecret` or `auth.verify`, received an object'],
    [{ auth: { jwtSecret: undefined } }, 'Invalid option `auth`: expected `auth.jwtSecret` to be a secret, but it is undefined (is its environment variable set?), received an object'],
    [{ auth: 'yes' }, 'Invalid option `auth`: expected an object, received a string of 3 characters'],
    [{ maxPayload: -1 }, 'Invalid option `maxPayload`: expected an integer in [256, 67108864], received -1'],
    [{ maxConnections: 0 }, 'Invalid option `maxConnections`: expected an integer >= 1, received 0'],
    [{ host: '' }, 'Invalid option `host`: expected a non-empty string, received ""'],
    [{ originRejection: 'drop' }, "Invalid option `originRejection`: expected 'close' or 'http', received \"drop\""],
    [{ implicitChannels: 'yes' }, 'Invalid option `implicitChannels`: expected true or false, received "yes"'],
    [{ rateLimits: { chat: { perMinute: 120, burst: 0 } } }, 'Invalid option `rateLimits.chat.burst`: expected an integer >= 1, received 0'],
    [{ rateLimits: { chat: { perMinute: 'many', burst: 1 } } }, 'Invalid option `rateLimits.chat.perMinute`: expected a positive number, received "many"'],
    [{ channels: [{ pattern: 'a:b:c:d' }] }, 'Invalid option `channels[0].pattern`: expected two or three `:`-separated segments, received "a:b:c:d"'],
    [{ channels: [{ pattern: 'chat' }] }, 'Invalid option `channels[0].pattern`: expected two or three `:`-separated segments, received "chat"'],
    [{ channels: [{ pattern: 'chat:room$' }] }, 'Invalid option `channels[0].pattern`: expected segments of letters, digits, _ . @ = + ~ | -, `*` or `{userId}`, received "chat:room$"'],
    [{ handshakeTimeoutMs: 0 }, 'Invalid option `handshakeTimeoutMs`: expected an integer in [1, 2147483647], received 0'],
    [{ historyTtlMs: 999 }, 'Invalid option `historyTtlMs`: expected an integer >= 1000, received 999'],
    [{ redis: 'redis://127.0.0.1:6379/abc' }, 'Invalid option `redis`: expected a redis:// or rediss:// URL whose database is a whole number (/0, ?db=2) and whose query sets no option the server sets itself (connectTimeout, commandTimeout, …), received a string of 26 characters'],
    [{ redis: { url: 'redis://127.0.0.1:6379/?db=-1' } }, 'Invalid option `redis.url`: expected a redis:// or rediss:// URL whose database is a whole number (/0, ?db=2) and whose query sets no option the server sets itself (connectTimeout, commandTimeout, …), received a string of 29 characters'],
    [{ redis: 'redis://127.0.0.1:6379/?connectTimeout=5000' }, 'Invalid option `redis`: expected a redis:// or rediss:// URL whose database is a whole number (/0, ?db=2) and whose query sets no option the server sets itself (connectTimeout, commandTimeout, …), received a string of 43 characters'],
    [{ redis: { url: 'redis://127.0.0.1:6379/0?family=4&commandTimeout=1' } }, 'Invalid option `redis.url`: expected a redis:// or rediss:// URL whose database is a whole number (/0, ?db=2) and whose query sets no option the server sets itself (connectTimeout, commandTimeout, …), received a string of 50 characters'],
    [{ auth: { jwtSecret: SECRET, clockToleranceSec: 30_000 } }, 'Invalid option `auth.clockToleranceSec`: expected seconds in [0, 300] (a clock skew, not milliseconds), received 30000'],
    [{ maxPayloads: 10 }, 'Invalid option `maxPayloads`: expected a known option, received a number'],
    [{ trustedProxies: '10.0.0.1' }, 'Invalid option `trustedProxies`: expected an array of IP addresses and CIDR ranges, received "10.0.0.1"'],
    [{ trustedProxies: ['10.0.0.0/33'] }, 'Invalid option `trustedProxies[0]`: expected an IP address, a CIDR range (IPv4 or IPv6, like 10.0.0.0/8), loopback, linklocal or uniquelocal, received "10.0.0.0/33"'],
    [{ trustedProxies: ['::1', 'nginx.internal'] }, 'Invalid option `trustedProxies[1]`: expected an IP address, a CIDR range (IPv4 or IPv6, like 10.0.0.0/8), loopback, linklocal or uniquelocal, received "nginx.internal"'],
    [{ trustedProxies: ['Loopback'] }, 'Invalid option `trustedProxies[0]`: expected an IP address, a CIDR range (IPv4 or IPv6, like 10.0.0.0/8), loopback, linklocal or uniquelocal, received "Loopback"'],
    [{ forwardedHeader: 'x-real-ip' }, "Invalid option `forwardedHeader`: expected 'x-forwarded-for' or 'forwarded', received \"x-real-ip\""],
    [{ ipv6ClientPrefix: 129 }, 'Invalid option `ipv6ClientPrefix`: expected an integer in [0, 128], received 129'],
    [{ ipv6ClientPrefix: 64.5 }, 'Invalid option `ipv6ClientPrefix`: expected an integer in [0, 128], received 64.5'],
  ])('%j → %s', (patch, message) => {
    expect(refusal(patch).message).toBe(message);
  });

  it.each([
    [{ handshakeTimeoutMs: 2 ** 31 }, 'handshakeTimeoutMs'],
    [{ auth: { jwtSecret: SECRET, timeoutMs: 2 ** 31 } }, 'auth.timeoutMs'],
    [{ heartbeatIntervalMs: 2 ** 31 }, 'heartbeatIntervalMs'],
    [{ idleTimeoutMs: 2 ** 33 }, 'idleTimeoutMs'],
    [{ shutdownTimeoutMs: 2 ** 31 }, 'shutdownTimeoutMs'],
    [{ typingTimeoutMs: 2 ** 31 }, 'typingTimeoutMs'],
    [{ redis: { nodeHeartbeatMs: 2 ** 31 } }, 'redis.nodeHeartbeatMs'],
    [{ redis: { commandTimeoutMs: 2 ** 31 } }, 'redis.commandTimeoutMs'],
    [{ redis: { connectTimeoutMs: 2 ** 31 } }, 'redis.connectTimeoutMs'],
  ])('refuses a timer beyond 2147483647 ms, which Node would fire after 1 ms (%j)', (patch, option) => {
    const error = refusal(patch);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(/expected an integer in \[\d, 2147483647\]/);
  });

  it.each(['two', -1, 1.5])('refuses a redis.options.db that is not a whole number (%j): ioredis would select NaN and crash the process on the reply', (db) => {
    const error = refusal({ redis: { options: { db } } });
    expect(error.option).toBe('redis.options.db');
    expect(error.message).toMatch(/expected an integer >= 0/);
  });

  it.each([
    [{ metricsPath: '/healthz' }],
    [{ healthPath: '/metrics' }],
    [{ healthPath: '/status', metricsPath: '/status' }],
  ])('refuses a metricsPath that is the healthPath (%j): one of the two would never be served', (patch) => {
    const error = refusal(patch);
    expect(error.option).toBe('metricsPath');
    expect(error.message).toMatch(/expected a path other than healthPath/);
  });

  it('takes both endpoints turned off', () => {
    expect(() => resolveOptions({ ...base(), healthPath: false, metricsPath: false } as ServerOptions)).not.toThrow();
  });

  it('takes channel patterns of two and three segments, of every allowed character', async () => {
    const { resolveOptions } = await import('../../../src/server/options.js');
    const channels = ['chat:*', 'user:{userId}:*', 'org:a_b.c@d=e+f~g|h-i:room-*'].map((pattern) => ({ pattern, subscribe: true }));
    expect(resolveOptions({ ...base(), channels }).channels).toEqual(channels);
  });

  it('refuses auth.issuer and auth.audience with a verify hook, which checks the token itself (they would go unchecked)', () => {
    const verify = () => ({ userId: 'alice' });
    expect(refusal({ auth: { verify, issuer: 'https://idp.example.com/' } }).message).toBe(
      'Invalid option `auth.issuer`: expected no value when `auth.verify` is set (verify() checks the token\'s iss itself), received "https://idp.example.com/"',
    );
    expect(refusal({ auth: { verify, audience: 'chat-api' } }).message).toBe(
      'Invalid option `auth.audience`: expected no value when `auth.verify` is set (verify() checks the token\'s aud itself), received "chat-api"',
    );
  });

  it("refuses an allowedOrigins entry with a * wildcard, saying origins are compared exactly (it would silently refuse every browser with 1008)", () => {
    expect(refusal({ allowedOrigins: ['https://*.example.com'] }).message).toBe(
      'Invalid option `allowedOrigins[0]`: expected an exact origin like https://app.example.com (wildcards are not supported), received "https://*.example.com"',
    );
  });

  it('describes a secret option’s value without its content', () => {
    const error = refusal({ auth: { jwtSecret: 'short' } });
    expect(error.message).toBe('Invalid option `auth.jwtSecret`: expected a string of at least 32 bytes (UTF-8) or a Uint8Array of at least 32 bytes, received a string of 5 characters');
    expect(error.option).toBe('auth.jwtSecret');
  });

  it('counts a string auth.jwtSecret in UTF-8 bytes: 16 two-byte characters (32 bytes) are taken, 31 bytes are refused saying so', async () => {
    const { resolveOptions } = await import('../../../src/server/options.js');
    expect(() => resolveOptions({ ...base(), auth: { jwtSecret: 'é'.repeat(16) } })).not.toThrow();
    expect(refusal({ auth: { jwtSecret: `${'é'.repeat(15)}x` } }).message).toBe(
      'Invalid option `auth.jwtSecret`: expected a string of at least 32 bytes (UTF-8) or a Uint8Array of at least 32 bytes, received a string of 16 characters (31 bytes)',
    );
  });

  it('never puts a secret in an error: secrets too short, a secret given as `auth` itself, Redis URLs with a password, secrets under misspelt keys', () => {
    const secret = fc.string({ minLength: 0, maxLength: 24 }).map((tail) => `Zq9~${tail}`);
    fc.assert(
      fc.property(secret, (value) => {
        const attempts: Record<string, unknown>[] = [
          { auth: { jwtSecret: value } },
          { auth: value },
          { auth: { jwtSecret: SECRET, jwtSecrett: value } },
          { redis: `redis://:${encodeURIComponent(value)}@127.0.0.1:6379/x y` },
          { redis: { url: `rediss://user:${encodeURIComponent(value)}@h:1`, keyPrefix: '' } },
          { redis: { url: `http://user:${encodeURIComponent(value)}@h:1` } },
          { redis: { options: { password: value }, nodeTimeoutMs: -1 } },
          { secret: value },
        ];
        for (const attempt of attempts) {
          const error = refusal(attempt);
          const everything = `${error.message} ${error.received} ${JSON.stringify(error)} ${String(error.stack)}`;
          expect(everything).not.toContain(value);
          expect(everything).not.toContain(encodeURIComponent(value));
        }
      }),
      { numRuns: 60 },
    );
  });
});

describe('server option defaults, as documented', () => {
  it('fills in the documented defaults of the limits', async () => {
    const { resolveOptions } = await import('../../../src/server/options.js');
    const resolved = resolveOptions(base());
    expect({
      handshakeTimeoutMs: resolved.handshakeTimeoutMs,
      frameBounds: resolved.frameBounds,
      maxPayload: resolved.maxPayload,
      maxConnections: resolved.maxConnections,
      historyMaxBytes: resolved.historyMaxBytes,
      channelRetention: resolved.retention.forChannel('chat:lobby'),
      unauthenticatedRateLimit: resolved.unauthenticatedRateLimit,
      floodThreshold: resolved.floodThreshold,
      chat: [resolved.rateLimits.chat, resolved.userRateLimits.chat],
    }).toEqual({
      handshakeTimeoutMs: 5000,
      frameBounds: { maxDepth: 32, maxItems: 10_000 },
      maxPayload: 65_536,
      maxConnections: 10_000,
      historyMaxBytes: 67_108_864,
      channelRetention: { size: 1000, maxBytes: 1_048_576 },
      unauthenticatedRateLimit: { perMinute: 300, burst: 60 },
      floodThreshold: 50,
      chat: [
        { perMinute: 120, burst: 20 },
        { perMinute: 120, burst: 20 },
      ],
    });
  });

  it('trusts no proxy unless told otherwise: the socket’s address is the client’s, whatever X-Forwarded-For says', async () => {
    const { resolveOptions } = await import('../../../src/server/options.js');
    expect(resolveOptions(base()).trustedProxies.clientAddress('127.0.0.1', '203.0.113.7')).toBe('127.0.0.1');
    expect(resolveOptions({ ...base(), trustedProxies: ['127.0.0.1', '2001:db8::/32'] }).trustedProxies.clientAddress('127.0.0.1', '203.0.113.7')).toBe('203.0.113.7');
  });

  it('charges an IPv6 client by its /64 unless told otherwise', async () => {
    const { resolveOptions } = await import('../../../src/server/options.js');
    expect(resolveOptions(base()).ipv6ClientPrefix).toBe(64);
    expect(resolveOptions({ ...base(), ipv6ClientPrefix: 128 }).ipv6ClientPrefix).toBe(128);
  });

  it('gives each user the resolved per-connection limits unless told otherwise', async () => {
    const { resolveOptions } = await import('../../../src/server/options.js');
    const resolved = resolveOptions({ ...base(), rateLimits: { bench: { perMinute: 1e6, burst: 1e4 } }, userRateLimits: { chat: { perMinute: 10, burst: 2 } } });
    expect([resolved.userRateLimits.bench, resolved.userRateLimits.chat, resolved.rateLimits.chat]).toEqual([
      { perMinute: 1e6, burst: 1e4 },
      { perMinute: 10, burst: 2 },
      { perMinute: 120, burst: 20 },
    ]);
  });
});
