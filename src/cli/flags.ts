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
