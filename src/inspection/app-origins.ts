import { InvalidOptionError } from '../protocol/errors.js';

/** An origin as browsers send it (`scheme://host[:port]`, lower case), or undefined if `entry` is not one. */
export function exactOrigin(entry: string): string | undefined {
  if (entry === 'null') return entry;
  try {
    const url = new URL(entry);
    const origin = url.origin === 'null' ? `${url.protocol}//${url.host}` : url.origin;
    return url.host !== '' && (url.href === origin || url.href === `${origin}/`) ? origin : undefined;
  } catch {
    return undefined;
  }
}

/** `appOrigins` as a set of exact origins, or `'*'`; an InvalidOptionError names an entry that is not an origin. */
export function appOriginSet(option: readonly string[] | '*'): ReadonlySet<string> | '*' {
  if (option === '*') return option;
  if (!Array.isArray(option)) throw new InvalidOptionError('appOrigins', "an array of origins, or '*'", option);
  return new Set(
    option.map((entry: unknown) => {
      const origin = typeof entry === 'string' ? exactOrigin(entry) : undefined;
      if (origin === undefined) throw new InvalidOptionError('appOrigins', 'origins such as "https://app.test:5173"', entry);
      return origin;
    }),
  );
}
