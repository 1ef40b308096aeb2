import { proxyRanges } from '../server/client-address.js';
import { serverRedisOptionIn, wholeRedisDatabase } from '../server/redis-url.js';

/** One command-line flag: its name, and its value (`--name=value`, else the next argument), read on demand. */
export interface Flag {
  /** The argument as given (`--port=80`). */
  readonly text: string;
  readonly name: string;
  /** The value given with `=`, else the next argument (which it consumes) unless that is a `--flag`. */
  value(): string | undefined;
  /** The value given with `=`, if any: a flag whose value is optional never takes the next argument. */
  optionalValue(): string | undefined;
  /**
   * The usage error for this argument when the command does not know it: a flag by its name (never the value
   * given with `=`), any other argument by its position (either may be a password given to the wrong place).
   */
  unexpected(): UsageError;
}

/**
 * The flags of `argv` in order (an argument that is not a flag is one whose name is all of it). A value given
 * with `=` to a flag whose value was not read, also one the caller stopped at, is a usage error.
 */
export function* flags(argv: readonly string[]): Generator<Flag> {
  for (let i = 0; i < argv.length; i++) {
    const text = argv[i]!;
    const equals = text.startsWith('-') ? text.indexOf('=') : -1;
    const name = equals < 0 ? text : text.slice(0, equals);
    const inline = equals < 0 ? undefined : text.slice(equals + 1);
    let read = false;
    const optionalValue = () => {
      read = true;
      return inline;
    };
    const next = argv[i + 1];
    const nextIsValue = next !== undefined && !next.startsWith('--');
    const position = i + 1;
    const unexpected = () => new UsageError(text.startsWith('-') ? `unknown option ${JSON.stringify(name)}` : `unexpected argument #${position}`);
    try {
      yield { text, name, optionalValue, unexpected, value: () => optionalValue() ?? (nextIsValue ? argv[++i] : undefined) };
    } finally {
      if (inline !== undefined && !read) throw new UsageError(`${name} takes no value`);
    }
  }
}

/** A command-line mistake: the command prints it with its usage and exits 2. */
export class UsageError extends Error {}

/**
 * A value given on the command line, as an error repeats it: never one holding user info (`user:pw@`) or a
 * parameter (`?password=`), such as a Redis URL given to the wrong flag.
 */
export const shown = (raw: string | undefined): string => (raw === undefined ? 'nothing' : /[@=]/.test(raw) ? 'a value that may hold a password (not repeated)' : JSON.stringify(raw));

/** The whole number `raw` given to `flag`, from `min` to `max`. */
export function wholeNumber(flag: string, raw: string | undefined, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw ?? '') || n < min || n > max) {
    throw new UsageError(`${flag} expects a whole number from ${min} to ${max}, got ${shown(raw)}`);
  }
  return n;
}

/** The value `raw` given to `flag`, one of `choices`. */
export function choiceValue<T extends string>(flag: string, raw: string | undefined, choices: readonly T[]): T {
  if (!choices.includes(raw as T)) throw new UsageError(`${flag} expects ${choices.join(' or ')}, got ${shown(raw)}`);
  return raw as T;
}

/** The interface address `raw` given to `flag`. */
export function hostValue(flag: string, raw: string | undefined): string {
  if (!raw || /[\s/@=]/.test(raw)) throw new UsageError(`${flag} expects an address such as 127.0.0.1, got ${shown(raw)}`);
  return raw;
}

/** The IP address or CIDR range `raw` given to `flag`. */
export function addressRangeValue(flag: string, raw: string | undefined): string {
  if (raw === undefined || proxyRanges(raw) === undefined) throw new UsageError(`${flag} expects an IP address, a CIDR range such as 10.0.0.0/8, loopback, linklocal or uniquelocal, got ${shown(raw)}`);
  return raw;
}

/** The Redis URL `raw` given to `flag` (never repeated in an error: it may hold a password). */
export function redisUrl(flag: string, raw: string | undefined): string {
  let url: URL | undefined;
  try {
    url = raw ? new URL(raw) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname) {
    throw new UsageError(`${flag} expects a redis:// or rediss:// URL, got ${raw === undefined ? 'nothing' : 'something else'}`);
  }
  if (!wholeRedisDatabase(url)) {
    throw new UsageError(`${flag} expects a Redis URL whose database is a whole number, such as redis://127.0.0.1:6379/0, got something else`);
  }
  const option = serverRedisOptionIn(url);
  if (option !== undefined) throw new UsageError(`${flag} expects a Redis URL whose query sets none of the options the server sets itself (${option}), got one that does`);
  return raw!;
}

/** Where the Redis URL `raw` points (scheme, host, port, database), to show: never its user, password or options. */
export function redisAddress(raw: string): string {
  const url = new URL(raw);
  return `${url.protocol}//${url.host}${url.pathname}`;
}
