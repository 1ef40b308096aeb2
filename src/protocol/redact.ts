/** Names that hold a credential, judged by their last word: `token`, `refresh_token`, `X-Auth-Token`, `newPassword`, `apiKeys`, `sig`… */
const SECRET_WORD = /(?:^|_)(?:tokens?|passwords?|passwd|passphrase|secrets?|(?:api|private|secret|access)_?keys?|authorization|bearer|cookies?|credentials?|jwt|sig|signature)$/;
/** Query parameters that are secrets although their name alone would not say so. */
const SECRET_PARAMS: ReadonlySet<string> = new Set(['auth', 'key']);
/** A `name=value` pair of a query, a fragment or a form body: after `?`, `&`, `#`, `;`, a space, or at the start. */
const PARAM = /(^|[?&#;\s])([^=&#;\s"'?]+)=([^&#\s"']*)/g;

/** Whether a member, header or parameter of this name holds a secret (case, `-`, `_` and camelCase alike). */
export function isSecretName(name: string): boolean {
  return SECRET_WORD.test(name.replace(/([a-z\d])([A-Z])/g, '$1_$2').replace(/[-.\s]+/g, '_').toLowerCase());
}

/** A URL's user-info (`user:password@`, or a token alone): the user name may be empty (`redis://:password@host`); it ends at the last `@` of the authority, as URL parsers read it (`ws://ann:p@ss@host`). */
const USERINFO = /(\b[a-z][\w+.-]*:\/\/)[^/?#\s]+@/gi;

/** Removes secrets from a URL's user-info, query and fragment, or a form body (`token`, `refresh_token`, `#access_token`…) before it reaches a log, an error or a metric. */
export function redactUrl(url: string, queryParam = 'token'): string {
  const custom = queryParam.toLowerCase();
  return url
    .replace(USERINFO, '$1[redacted]@')
    .replace(PARAM, (pair, separator: string, name: string) => {
      const lower = name.toLowerCase();
      return lower === custom || SECRET_PARAMS.has(lower) || isSecretName(name) ? `${separator}${name}=[redacted]` : pair;
    });
}

/**
 * A function that replaces every occurrence of `secret` in a text, and every run of 8 or more of its characters
 * (what a text cut short keeps of it), adjoining runs as one; a secret shorter than that where it appears whole.
 * Made once per secret, for the many texts it is redacted from (every string of an error's details): each costs
 * what the text does, not the text times the secret. The secret lives as long as the function.
 */
export function secretRedactor(secret: string): (text: string) => string {
  const run = Math.min(8, secret.length);
  const runs = new Set<string>();
  for (let i = 0; i + run <= secret.length; i++) runs.add(secret.slice(i, i + run));
  return (text) => {
    let out = '';
    let end = 0;
    for (let i = 0; i + run <= text.length; i++) {
      if (!runs.has(text.slice(i, i + run))) continue;
      // the first run, or one apart from the last: the text between is kept
      if (i > end || !out) out += `${text.slice(end, i)}[redacted]`;
      end = i + run;
    }
    return out ? out + text.slice(end) : text;
  };
}

/** One text without `secret` (see `secretRedactor`, for many texts). */
export const redactSecret = (text: string, secret: string | undefined): string => (secret ? secretRedactor(secret)(text) : text);

/** Values nested deeper than this are summarised by `redactDeep` (`[Object]`, `[Array]`): a secret cannot hide below it. */
const MAX_DEPTH = 32;

/**
 * Applies `redact` to every string inside a value. Objects and arrays holding a changed string are
 * copied; a value in which nothing changed is returned as it is.
 */
export function redactDeep(value: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) return Array.isArray(value) ? '[Array]' : '[Object]';
  let changed = false;
  const entries = Object.entries(value).map(([key, item]) => {
    const redacted = redactDeep(item, redact, depth + 1);
    changed ||= redacted !== item;
    return [key, redacted] as const;
  });
  if (!changed) return value;
  return Array.isArray(value) ? entries.map(([, item]) => item) : Object.fromEntries(entries);
}
