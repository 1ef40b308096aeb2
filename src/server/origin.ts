/** Which `Origin` headers may open a socket. */
export interface OriginPolicy {
  /** `'*'` any origin, otherwise exact `scheme://host[:port]` origins (normalized, lower case). */
  readonly allowed: '*' | ReadonlySet<string>;
  /** Accept a handshake without an `Origin` header (non-browser clients). */
  readonly allowMissing: boolean;
  /** Accept `Origin: null` (sandboxed iframes, `file:` pages). */
  readonly allowNull: boolean;
}

/**
 * Normalizes an allowlist entry to its serialized origin, or undefined if it is not an exact origin (a `*` in its
 * host is no wildcard). An app's own scheme with a host (`capacitor://localhost`, `chrome-extension://<id>`) is
 * taken as browsers send it, `scheme://host`.
 */
export function normalizeOrigin(entry: string): string | undefined {
  try {
    const url = new URL(entry);
    const special = url.origin !== 'null';
    const origin = special ? url.origin : `${url.protocol}//${url.host}`;
    if (url.host === '' || url.hostname.includes('*') || url.pathname !== (special ? '/' : '') || url.search || url.hash || url.username || url.password) return undefined;
    return origin.toLowerCase();
  } catch {
    return undefined;
  }
}

export type OriginVerdict = { ok: true } | { ok: false; reason: string };

/** Exact-match check of the handshake's `Origin` header against the policy. */
export function checkOrigin(header: string | string[] | undefined, policy: OriginPolicy): OriginVerdict {
  if (Array.isArray(header)) return { ok: false, reason: 'several Origin headers' };
  if (header === undefined || header === '') {
    return policy.allowMissing ? { ok: true } : { ok: false, reason: 'missing Origin' };
  }
  if (header === 'null') return policy.allowNull ? { ok: true } : { ok: false, reason: 'null Origin' };
  if (policy.allowed === '*') return { ok: true };
  return policy.allowed.has(header.toLowerCase()) ? { ok: true } : { ok: false, reason: 'Origin not allowed' };
}
