import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/cli/demo-args.js';
import { parseServeArgs, parseTokenArgs } from '../../../src/cli/serve-args.js';

/** A Redis URL with a password, as a user might give it to the wrong flag. */
const redisWithPassword = 'redis://default:hunter2pw@cache.example:6379';

describe('socketchart serve flags', () => {
  it('listens on loopback port 8080, one node in memory, trusting no proxy, unless told otherwise', () => {
    expect(parseServeArgs([])).toEqual({ port: 8080, host: '127.0.0.1', redis: undefined, trustedProxies: [], forwardedHeader: 'x-forwarded-for' });
  });

  it('reads --port, --host and --redis, with or without =', () => {
    expect(parseServeArgs(['--port', '0', '--host=::1', '--redis', 'redis://127.0.0.1:6390'])).toEqual({ port: 0, host: '::1', redis: 'redis://127.0.0.1:6390', trustedProxies: [], forwardedHeader: 'x-forwarded-for' });
    expect(parseServeArgs(['--help'])).toBe('help');
  });

  it('scales out over REDIS_URL when it is set, and --redis wins over it', () => {
    expect(parseServeArgs([], { REDIS_URL: 'redis://a:6379' })).toMatchObject({ redis: 'redis://a:6379' });
    expect(parseServeArgs(['--redis=rediss://b:6380'], { REDIS_URL: 'redis://a:6379' })).toMatchObject({ redis: 'rediss://b:6380' });
    expect(parseServeArgs([], { REDIS_URL: '' })).toEqual({ port: 8080, host: '127.0.0.1', redis: undefined, trustedProxies: [], forwardedHeader: 'x-forwarded-for' });
  });

  it('reads the client from the header --forwarded-header names, and takes the named ranges for --trusted-proxy', () => {
    expect(parseServeArgs(['--trusted-proxy', 'loopback', '--forwarded-header', 'forwarded'])).toMatchObject({ trustedProxies: ['loopback'], forwardedHeader: 'forwarded' });
    expect(parseServeArgs(['--forwarded-header=x-forwarded-for', '--trusted-proxy=uniquelocal'])).toMatchObject({ trustedProxies: ['uniquelocal'], forwardedHeader: 'x-forwarded-for' });
  });

  it('trusts the X-Forwarded-For of each --trusted-proxy, an address or CIDR range, given as often as needed', () => {
    expect(parseServeArgs(['--trusted-proxy', '10.0.0.0/8', '--trusted-proxy=::1', '--trusted-proxy', '2001:db8::/32'])).toMatchObject({ trustedProxies: ['10.0.0.0/8', '::1', '2001:db8::/32'] });
  });

  it.each([
    [['--port', '70000'], /--port expects a whole number from 0 to 65535/],
    [['--port', ''], /--port expects/],
    [['--host'], /--host expects/],
    [['--redis', 'localhost:6379'], /--redis expects a redis:\/\/ or rediss:\/\/ URL/],
    [['--trusted-proxy', 'nginx.internal'], /--trusted-proxy expects an IP address, a CIDR range such as 10\.0\.0\.0\/8, loopback, linklocal or uniquelocal, got "nginx.internal"/],
    [['--trusted-proxy', '10.0.0.0/33'], /--trusted-proxy expects an IP address, a CIDR range/],
    [['--forwarded-header', 'x-real-ip'], /--forwarded-header expects x-forwarded-for or forwarded, got "x-real-ip"/],
    [['--forwarded-header'], /--forwarded-header expects x-forwarded-for or forwarded, got nothing/],
    [['--trusted-proxy'], /--trusted-proxy expects an IP address, a CIDR range such as 10\.0\.0\.0\/8, loopback, linklocal or uniquelocal, got nothing/],
    [['--verbose'], /unknown option/],
    [['--help=no'], /--help takes no value/],
  ])('rejects %j with a usage error', (argv, message) => {
    expect(() => parseServeArgs(argv)).toThrow(UsageError);
    expect(() => parseServeArgs(argv)).toThrow(message);
  });

  it('refuses a flag it does not know by its name only, not the value given with = (a misspelt --redis-url=<url> holds a password)', () => {
    expect(() => parseServeArgs([`--redis-url=${redisWithPassword}`])).toThrow(new UsageError('unknown option "--redis-url"'));
  });

  it('refuses an argument that is not a flag by its position only (a Redis URL whose --redis was forgotten)', () => {
    expect(() => parseServeArgs(['--port', '0', redisWithPassword])).toThrow(new UsageError('unexpected argument #3'));
  });

  it('refuses a flag whose value is missing without taking the next flag as its value (--host --redis <url>)', () => {
    expect(() => parseServeArgs(['--host', '--redis', redisWithPassword])).toThrow(new UsageError('--host expects an address such as 127.0.0.1, got nothing'));
  });

  it('refuses a Redis URL given to a flag that takes no URL without repeating it (--host <url> where --redis <url> was meant)', () => {
    const misplaced = [redisWithPassword, 'redis://cache.example:6379/?password=hunter2pw', 'default:hunter2pw@cache.example'];
    for (const flag of ['--host', '--port', '--trusted-proxy', '--forwarded-header']) {
      for (const value of misplaced) {
        const run = () => parseServeArgs([flag, value]);
        expect(run).toThrow(UsageError);
        expect(run).toThrow(new RegExp(`^${flag} expects .*, got a value that may hold a password \\(not repeated\\)$`));
      }
    }
  });

  it('refuses a token lifetime holding a password without repeating it', () => {
    expect(() => parseTokenArgs(['alice', '--ttl', redisWithPassword])).toThrow(new UsageError('--ttl expects a whole number from 1 to 31536000, got a value that may hold a password (not repeated)'));
  });

  it('reads --redis before REDIS_URL, so a REDIS_URL it cannot read does not matter once --redis is given', () => {
    expect(parseServeArgs(['--redis', 'redis://127.0.0.1:6390'], { REDIS_URL: 'localhost:6379' })).toMatchObject({ redis: 'redis://127.0.0.1:6390' });
  });

  it('answers --help whatever REDIS_URL holds', () => {
    expect(parseServeArgs(['--help'], { REDIS_URL: 'localhost:6379' })).toBe('help');
  });

  it('refuses a Redis URL it cannot read, from --redis or REDIS_URL, without repeating it (it may hold a password)', () => {
    const urls = ['redis://:hunter2pw@127.0.0.1:99999', 'redis://:hunter2pw@', 'http://:hunter2pw@host:6379'];
    for (const url of urls) {
      expect(() => parseServeArgs(['--redis', url])).toThrow(UsageError);
      expect(() => parseServeArgs([], { REDIS_URL: url })).toThrow(/REDIS_URL expects a redis:\/\/ or rediss:\/\/ URL/);
      for (const run of [() => parseServeArgs(['--redis', url]), () => parseServeArgs([], { REDIS_URL: url })]) {
        try {
          run();
        } catch (error) {
          expect((error as Error).message).not.toContain('hunter2pw');
        }
      }
    }
  });

  it('refuses a Redis URL whose database is not a whole number, from --redis or REDIS_URL, without repeating it', () => {
    for (const url of ['redis://:hunter2pw@127.0.0.1:6379/abc', 'redis://:hunter2pw@127.0.0.1:6379/-1', 'redis://:hunter2pw@127.0.0.1:6379/?db=abc', 'redis://:hunter2pw@127.0.0.1:6379?db=']) {
      for (const run of [() => parseServeArgs(['--redis', url]), () => parseServeArgs([], { REDIS_URL: url })]) {
        expect(run).toThrow(UsageError);
        expect(run).toThrow(/expects a Redis URL whose database is a whole number/);
        expect(run).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2pw') }));
      }
    }
    expect(parseServeArgs(['--redis', 'redis://127.0.0.1:6379/2'])).toMatchObject({ redis: 'redis://127.0.0.1:6379/2' });
    expect(parseServeArgs(['--redis', 'rediss://127.0.0.1:6379/?db=3'])).toMatchObject({ redis: 'rediss://127.0.0.1:6379/?db=3' });
  });
});

describe('socketchart token arguments', () => {
  it('takes a user id and a lifetime of an hour unless told otherwise', () => {
    expect(parseTokenArgs(['alice'])).toEqual({ userId: 'alice', ttlSec: 3600 });
    expect(parseTokenArgs(['--ttl', '60', 'bob'])).toEqual({ userId: 'bob', ttlSec: 60 });
    expect(parseTokenArgs(['-h'])).toBe('help');
  });

  it('takes a user id holding = as it is', () => {
    expect(parseTokenArgs(['a=b'])).toEqual({ userId: 'a=b', ttlSec: 3600 });
  });

  it('refuses a flag it does not know, or a second argument, without repeating its value (it may be the secret)', () => {
    const secret = 'hunter2pw-of-32-characters-or-more';
    expect(() => parseTokenArgs(['alice', `--secret=${secret}`])).toThrow(new UsageError('unknown option "--secret"'));
    expect(() => parseTokenArgs(['alice', secret])).toThrow(new UsageError('unexpected argument #2'));
  });

  it.each([
    [[], /the user id is missing/],
    [['alice', 'bob'], /unexpected argument #2/],
    [['--ttl', '0', 'alice'], /--ttl expects a whole number from 1/],
    [['alice', '--ttl', '--role'], /--ttl expects a whole number from 1 to 31536000, got nothing/],
    [['--role', 'admin'], /unknown option "--role"/],
    [['alice', '--help=yes'], /--help takes no value/],
  ])('rejects %j with a usage error', (argv, message) => {
    expect(() => parseTokenArgs(argv)).toThrow(UsageError);
    expect(() => parseTokenArgs(argv)).toThrow(message);
  });
});
