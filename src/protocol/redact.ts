const secretParams = /([?&](?:token|access_token|auth|authorization|jwt|key|api_key)=)[^&#]*/gi;

/** Removes tokens from a URL (query mode) before it reaches a log, an error or a metric. */
export function redactUrl(url: string, queryParam = 'token'): string {
  const custom = new RegExp(`([?&]${queryParam.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}=)[^&#]*`, 'gi');
  return url.replace(custom, '$1[redacted]').replace(secretParams, '$1[redacted]');
}

/** Replaces every occurrence of a known secret in a text. */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('[redacted]');
}
