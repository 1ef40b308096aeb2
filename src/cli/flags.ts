/** One command-line flag: its name, and its value (`--name=value`, else the next argument), read on demand. */
export interface Flag {
  /** The argument as given (`--port=80`). */
  readonly text: string;
  readonly name: string;
  /** The value given with `=`, if any. */
  readonly inline: string | undefined;
  value(): string | undefined;
}

/** The flags of `argv` in order; reading a flag's value consumes the next argument when it is not inline. */
export function* flags(argv: readonly string[]): Generator<Flag> {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const equals = flag.indexOf('=');
    const inline = equals < 0 ? undefined : flag.slice(equals + 1);
    yield { text: flag, name: equals < 0 ? flag : flag.slice(0, equals), inline, value: () => inline ?? argv[++i] };
  }
}

/** A command-line mistake: the command prints it with its usage and exits 2. */
export class UsageError extends Error {}

const shown = (raw: string | undefined) => (raw === undefined ? 'nothing' : JSON.stringify(raw));

/** The whole number `raw` given to `flag`, from `min` to `max`. */
export function wholeNumber(flag: string, raw: string | undefined, min: number, max: number): number {
  const n = Number(raw);
  if (raw === undefined || raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} expects a whole number from ${min} to ${max}, got ${shown(raw)}`);
  }
  return n;
}

/** The interface address `raw` given to `flag`. */
export function hostValue(flag: string, raw: string | undefined): string {
  if (!raw || /[\s/]/.test(raw)) throw new UsageError(`${flag} expects an address such as 127.0.0.1, got ${shown(raw)}`);
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
  return raw!;
}
