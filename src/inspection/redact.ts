import { redactUrl } from '../protocol/redact.js';

/** Names of members whose text is a secret wherever they appear. */
const SECRET_KEY = /^(?:token|access_?token|refresh_?token|id_?token|auth_?token|bearer|password|passwd|secret|client_?secret|api_?key|authorization|cookie|set-cookie|credentials?|jwt|private_?key|session_?token)$/i;
/** A JSON Web Token anywhere in a text. */
const JWT = /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g;
const BEARER = /\b(Bearer|Basic)\s+[\w.~+/=-]{8,}/gi;
/** Credentials in a URL's user-info part. */
const URL_USERINFO = /(\b[a-z][\w+.-]*:\/\/)[^/@\s:]+:[^/@\s]+@/gi;

const REDACTED = '[redacted]';
/** Deeper values are summarised (`[Object]`, `[Array]`): nothing below is looked at, nor kept. */
const MAX_DEPTH = 32;

/** A text with what looks like a credential removed: JWTs, bearer tokens, secret query parameters, URL passwords. */
export function redactText(text: string): string {
  if (text.length < 8) return text;
  let out = text;
  if (out.includes('eyJ')) out = out.replace(JWT, REDACTED);
  if (/bearer|basic/i.test(out)) out = out.replace(BEARER, `$1 ${REDACTED}`);
  if (out.includes('://')) out = redactUrl(out).replace(URL_USERINFO, `$1${REDACTED}@`);
  else if (out.includes('=')) out = redactUrl(out);
  return out;
}

/**
 * Removes secrets from a value received for inspection, in place (it must be the receiver's own copy, as
 * parsed JSON is): the text of members named like a credential (`token`, `password`, `authorization`…)
 * and credentials found inside any text; values nested deeper than 32 levels are summarised. socketchart's
 * machines hold no secret; this guards what other apps' machines send.
 */
export function redactInPlace(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth > MAX_DEPTH) return Array.isArray(value) ? '[Array]' : '[Object]';
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = redactInPlace(value[i], depth + 1);
    return value;
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    const member = object[key];
    if (typeof member === 'string') object[key] = SECRET_KEY.test(key) && member !== '' ? REDACTED : redactText(member);
    else if (typeof member === 'object' && member !== null) object[key] = redactInPlace(member, depth + 1);
  }
  return value;
}

/** A definition's JSON text with secrets removed (left as it is when it is not JSON). */
export function redactJsonText(text: string): string {
  try {
    return JSON.stringify(redactInPlace(JSON.parse(text)));
  } catch {
    return redactText(text);
  }
}
