const secretParams = /([?&](?:token|access_token|auth|authorization|jwt|key|api_key)=)[^&#\s"']*/gi;

/** Removes tokens from a URL (query mode) before it reaches a log, an error or a metric. */
export function redactUrl(url: string, queryParam = 'token'): string {
  const custom = new RegExp(`([?&]${queryParam.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}=)[^&#\\s"']*`, 'gi');
  return url.replace(custom, '$1[redacted]').replace(secretParams, '$1[redacted]');
}

/** Replaces every occurrence of a known secret in a text. */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('[redacted]');
}

/** Applies `redact` to every string inside a value (objects and arrays are copied). */
export function redactDeep(value: unknown, redact: (text: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return redact(value);
  if (depth > 5 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, redact, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) copy[key] = redactDeep(item, redact, depth + 1);
  return copy;
}
