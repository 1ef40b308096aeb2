import { isSecretName, redactUrl } from '../protocol/redact.js';

/** A JSON Web Token anywhere in a text. */
const JWT = /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[\w.~+/=-]{8,}/gi;
/** A JSON member (`"token": "…"`, `"pin": 1234`) in a text that is not JSON as a whole: cut short, or quoted among other words. */
const MEMBER = /"((?:[^"\\]|\\.){1,200})"(\s*:\s*)("(?:[^"\\]|\\.)*"?|-?\d[\d.eE+-]*)/g;

/** A value on one line in quotes (`'…'`, `"…"` or `` `…` ``, as util.inspect writes a string); cut short, it runs to the end of the line. */
const QUOTED = String.raw`(?<quote>['"\x60])(?<body>(?:(?!\k<quote>)[^\\\n]|\\.)*)(?<close>\k<quote>?)`;
/** An unquoted value up to a space, a comma or a semicolon (what an earlier pass left, `[redacted]`, included). */
const BARE = String.raw`\[redacted\]|[^\s,;'"\x60\[{(][^\s,;]*`;
/** Where a name begins: the start, or a character that cannot be part of one. */
const NAME_START = String.raw`(?<before>^|[^\w$.-])`;
/** `name="…"` and `name = '…'`: a query-like pair whose value is quoted (after what `redactUrl` makes of it: `name=[redacted]"…"`). */
const QUOTED_PAIR = new RegExp(String.raw`${NAME_START}(?<name>[\w$.-]+)(?<separator>[ \t]*=[ \t]*)(?<param>\[redacted\])?${QUOTED}`, 'g');
/**
 * `name: value` and `'name' => value`: a member of an object as util.inspect writes it, or a header line, its
 * value quoted or bare; a bare one may go on with `; name=value` pairs, all cookies of a `Cookie` line.
 */
const COLON_PAIR = new RegExp(String.raw`${NAME_START}(?<name>[\w$.-]+|'[^'\n]{1,200}')(?<separator>[ \t]*(?::|=>)[ \t]*)(?:${QUOTED}|(?<bare>${BARE})(?<more>(?:;[ \t]*[^\s,;=]+=[^\s,;]*)*))`, 'g');
/** An `Authorization` header line: its scheme (`Token`, `Digest`…), if any, is kept. */
const AUTHORIZATION = new RegExp(String.raw`(authorization'?[ \t]*(?::|=>)[ \t]*)([a-z]+[ \t]+)?(?:${BARE})`, 'gi');
/** Bare values that hold nothing, as util.inspect writes them. */
const NOTHING = /^(?:null|undefined|true|false)$/;

type PairGroups = Partial<Record<'before' | 'name' | 'separator' | 'param' | 'quote' | 'body' | 'close' | 'bare' | 'more', string>>;

const REDACTED = '[redacted]';
/** Deeper values are summarised (`[Object]`, `[Array]`): nothing below is looked at, nor kept. */
const MAX_DEPTH = 32;

/**
 * A text with what looks like a credential removed: JWTs, bearer tokens, secret query parameters (their value quoted
 * or not), URL passwords, secret JSON members, members of objects as util.inspect writes them and header lines
 * (`X-Api-Key: …`, `Authorization: Token …`, `Cookie: …`) named like a credential; a JSON text as the value it holds.
 */
export function redactText(text: string): string {
  if (text.length < 8) return text;
  if (/^\s*[[{]/.test(text) && /[\]}]\s*$/.test(text)) {
    const json = redactedJson(text);
    if (json !== undefined) return json;
  }
  let out = text;
  if (out.includes('":') || out.includes('" :')) out = out.replace(MEMBER, (member, name: string, colon: string, value: string) => (value !== '""' && isSecretName(name) ? `"${name}"${colon}"${REDACTED}"` : member));
  if (out.includes('eyJ')) out = out.replace(JWT, REDACTED);
  if (/bearer|basic/i.test(out)) out = out.replace(BEARER, `$1 ${REDACTED}`);
  if (out.includes('://') || out.includes('=')) out = redactUrl(out);
  if (out.includes('=')) out = out.replace(QUOTED_PAIR, (...match) => redactedQuotedPair(match.at(-1) as PairGroups));
  if (out.includes(':') || out.includes('=>')) {
    if (/authorization/i.test(out)) out = out.replace(AUTHORIZATION, `$1$2${REDACTED}`);
    out = out.replace(COLON_PAIR, (pair, ...match) => redactedColonPair(pair, match.at(-1) as PairGroups));
  }
  return out;
}

/** A `name="…"` pair with its quoted value redacted when the name is a credential's, or `redactUrl` judged it one. */
function redactedQuotedPair({ before = '', name = '', separator = '', param, quote = '', body, close = '' }: PairGroups): string {
  const secret = body && (param !== undefined || isSecretName(name));
  return `${before}${name}${separator}${quote}${secret ? REDACTED : body}${close}`;
}

/** A `name: value` pair with its value redacted when the name is a credential's, keeping empty values and those `AUTHORIZATION` looks at. */
function redactedColonPair(pair: string, { before = '', name = '', separator = '', quote, body, close = '', bare, more = '' }: PairGroups): string {
  const unquoted = name.startsWith("'") ? name.slice(1, -1) : name;
  if (!isSecretName(unquoted)) return pair;
  if (quote !== undefined) return body ? `${before}${name}${separator}${quote}${REDACTED}${close}` : pair;
  if (bare === undefined || NOTHING.test(bare) || /authorization$/i.test(unquoted)) return pair;
  return `${before}${name}${separator}${REDACTED}${/cookies?$/i.test(unquoted) ? '' : more}`;
}

/** A JSON text (a raw frame kept as a string) redacted as the value it holds; as it is when nothing was removed; `undefined` when it is not JSON. */
function redactedJson(text: string): string | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const before = JSON.stringify(value);
  const after = JSON.stringify(redactInPlace(value));
  return after === before ? text : after;
}

/**
 * Removes secrets from a value received for inspection, in place (it must be the receiver's own copy, as
 * parsed JSON is): every text or number under a member named like a credential (`token`, `newPassword`,
 * `X-Api-Key`…, inside arrays and objects so named included), the value after such a name in a list of
 * name and value pairs (`[['X-Api-Key', '…']]`, Node's `rawHeaders`), and credentials found inside any text or
 * member name; values nested deeper than 32 levels are summarised. socketchart's machines hold no secret; this guards what other
 * apps' machines send.
 */
export function redactInPlace(value: unknown, depth = 0, secret = false, maxDepth = MAX_DEPTH): unknown {
  if (secret && (typeof value === 'number' || (typeof value === 'string' && value !== ''))) return REDACTED;
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth > maxDepth) return Array.isArray(value) ? '[Array]' : '[Object]';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const named = i % 2 === 1 && typeof value[i - 1] === 'string' && isSecretName(value[i - 1] as string);
      value[i] = redactInPlace(value[i], depth + 1, secret || named, maxDepth);
    }
    return value;
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    const item = redactInPlace(object[key], depth + 1, secret || isSecretName(key), maxDepth);
    const name = redactText(key);
    if (name !== key) delete object[key];
    object[name] = item;
  }
  return value;
}

/**
 * Levels of a definition kept whole: each state nests two levels below its parent (`states`, then the state), and
 * a page draws states 32 deep, noting that deeper ones were left out; it must see that there were some.
 */
const DEFINITION_DEPTH = 2 * 40;

/** A definition's JSON text with secrets removed (left as it is when it is not JSON); summarised below `DEFINITION_DEPTH` levels. */
export function redactJsonText(text: string): string {
  try {
    return JSON.stringify(redactInPlace(JSON.parse(text), 0, false, DEFINITION_DEPTH));
  } catch {
    return redactText(text);
  }
}

/** Members of a record that name it (texts, as `isInspectionRecord` checks), left as they are; every other member is redacted. */
const RECORD_IDS: ReadonlySet<string> = new Set(['type', '_version', 'sessionId', 'rootId', 'parentId', 'sourceId', 'id', 'createdAt']);

/**
 * The record (the receiver's own copy) with every secret-looking text removed from what it carries: its ids
 * and type are left alone, and so is an actor's definition, for `redactJsonText`.
 */
export function redactRecord<T extends { type: string }>(record: T): T {
  const r = record as unknown as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!RECORD_IDS.has(key) && !(key === 'definition' && record.type === '@xstate.actor')) r[key] = redactInPlace(r[key]);
  }
  return record;
}
