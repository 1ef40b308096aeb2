import { describe, expect, it } from 'vitest';
import { parseDemoArgs, UsageError } from '../../../src/cli/demo-args.js';

describe('demo flags', () => {
  it('defaults to a 30 s run of the eight seed feeds on one in-process node', () => {
    expect(parseDemoArgs([])).toEqual({ durationSec: 30, connections: 8, forever: false, redis: undefined, inspect: false });
  });

  it('reads --duration, --connections, --forever and --redis, with or without =', () => {
    expect(parseDemoArgs(['--duration', '60', '--connections=20', '--forever', '--redis', 'redis://127.0.0.1:6379'])).toEqual({
      durationSec: 60,
      connections: 20,
      forever: true,
      redis: 'redis://127.0.0.1:6379',
      inspect: false,
    });
  });

  it('reads --inspect (port 4242) and --inspect=<port> (0: any free port)', () => {
    expect(parseDemoArgs(['--inspect'])).toMatchObject({ inspect: 4242 });
    expect(parseDemoArgs(['--inspect=0'])).toMatchObject({ inspect: 0 });
    expect(parseDemoArgs(['--inspect=5000'])).toMatchObject({ inspect: 5000 });
  });

  it('answers --help', () => {
    expect(parseDemoArgs(['--help'])).toBe('help');
  });

  it('refuses a flag it does not know by its name only, and an argument that is not a flag by its position only (either may hold a Redis password)', () => {
    const url = 'redis://default:hunter2pw@cache.example:6379';
    expect(() => parseDemoArgs([`--redis-url=${url}`])).toThrow(new UsageError('unknown option "--redis-url"'));
    expect(() => parseDemoArgs(['--forever', url])).toThrow(new UsageError('unexpected argument #2'));
  });

  it.each([
    [['--bogus'], /unknown option "--bogus"/],
    [['--duration', '--forever'], /--duration expects a whole number from 10 to 3600, got nothing/],
    [['--duration'], /--duration expects/],
    [['--duration', '5'], /--duration expects a whole number from 10/],
    [['--connections', '0'], /--connections expects/],
    [['--connections', '2.5'], /--connections expects/],
    [['--redis', 'http://x'], /--redis expects a redis:\/\/ or rediss:\/\/ URL/],
    [['--redis', 'redis://127.0.0.1:6379/abc'], /--redis expects a Redis URL whose database is a whole number/],
    [['--inspect=soon'], /--inspect expects a whole number from 0 to 65535/],
    [['--forever=false'], /--forever takes no value/],
    [['--forever='], /--forever takes no value/],
    [['--help=x'], /--help takes no value/],
  ])('rejects %j with a usage error', (argv, message) => {
    expect(() => parseDemoArgs(argv)).toThrow(UsageError);
    expect(() => parseDemoArgs(argv)).toThrow(message);
  });
});
