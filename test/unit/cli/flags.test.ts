import { describe, expect, it } from 'vitest';
import { flags, redisAddress, UsageError, wholeNumber } from '../../../src/cli/flags.js';

/** Reads `argv` as a command would that knows `--port <n>` and the switch `--quiet`, and stops at `--help`. */
function read(argv: readonly string[]): Array<[string, string | undefined]> | 'help' {
  const seen: Array<[string, string | undefined]> = [];
  for (const flag of flags(argv)) {
    if (flag.name === '--help') return 'help';
    seen.push([flag.name, flag.name === '--port' ? flag.value() : undefined]);
  }
  return seen;
}

describe('command-line flags', () => {
  it('reads a value after = or in the next argument', () => {
    expect(read(['--port=80', '--quiet', '--port', '81'])).toEqual([
      ['--port', '80'],
      ['--quiet', undefined],
      ['--port', '81'],
    ]);
  });

  it('refuses a value given with = to a flag that takes none, also one that ends the reading', () => {
    expect(() => read(['--quiet=false'])).toThrow(new UsageError('--quiet takes no value'));
    expect(() => read(['--quiet='])).toThrow(new UsageError('--quiet takes no value'));
    expect(() => read(['--help=x'])).toThrow(new UsageError('--help takes no value'));
  });

  it('takes an argument that is not a flag as it is, = included', () => {
    expect(read(['a=b'])).toEqual([['a=b', undefined]]);
  });

  it('does not take the flag that follows as the value of a flag whose value is missing', () => {
    expect(read(['--port', '--quiet'])).toEqual([
      ['--port', undefined],
      ['--quiet', undefined],
    ]);
  });
});

describe('a whole number given to a flag', () => {
  it('takes decimal digits only, as written', () => {
    expect(wholeNumber('--port', '8080', 0, 65_535)).toBe(8080);
    expect(wholeNumber('--port', '0', 0, 65_535)).toBe(0);
    for (const raw of ['0x50', '1e3', '8080.0', '+80', ' 80', '80 ', '0b1010', '0o17', '1_000']) {
      expect(() => wholeNumber('--port', raw, 0, 65_535)).toThrow(new UsageError(`--port expects a whole number from 0 to 65535, got ${JSON.stringify(raw)}`));
    }
  });
});

describe('a Redis URL shown to the user', () => {
  it('keeps where it points and leaves out the user, the password and the options', () => {
    expect(redisAddress('redis://default:hunter2pw@127.0.0.1:6390')).toBe('redis://127.0.0.1:6390');
    expect(redisAddress('rediss://:hunter2pw@cache.example:6380/2?password=hunter2pw')).toBe('rediss://cache.example:6380/2');
    expect(redisAddress('redis://[::1]:6379')).toBe('redis://[::1]:6379');
  });
});
