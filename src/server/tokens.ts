import { dependencies, loadJose } from './dependencies.js';
import { InvalidOptionError } from '../protocol/errors.js';
import { isUserId, USER_ID_RULE } from './user-id.js';

export interface CreateTokenOptions {
  /**
   * The server's `auth.jwtSecret`: at least 32 bytes. `undefined` (an environment variable that is not set)
   * is refused with InvalidOptionError, as a short secret is.
   */
  secret: string | Uint8Array | undefined;
  /** The user the token stands for (the `sub` claim): 1 to 128 letters, digits or `_ . @ = + ~ | -`. */
  userId: string;
  /** Roles channel rules can require (`roles` claim). @default [] */
  roles?: readonly string[];
  /** Permissions (`permissions` claim). @default [] */
  permissions?: readonly string[];
  /** Lifetime in seconds from now (`exp` claim); the server ends the session then, with 4001. @default 3600 */
  expiresInSec?: number;
  /** `iss` claim, for a server configured with `auth.issuer`. @default undefined */
  issuer?: string;
  /** `aud` claim, for a server configured with `auth.audience`. @default undefined */
  audience?: string;
}

/** HS256 wants a key of at least 32 bytes; a string secret's are its UTF-8 bytes. */
const MIN_SECRET_BYTES = 32;

/** What a secret must be (createToken's `secret`, the server's `auth.jwtSecret`). */
export const SECRET_RULE = `a string of at least ${MIN_SECRET_BYTES} bytes (UTF-8) or a Uint8Array of at least ${MIN_SECRET_BYTES} bytes`;

/** A secret's key: a string's UTF-8 bytes, or the bytes given; `undefined` for anything else. */
const keyOf = (secret: unknown): Uint8Array | undefined =>
  typeof secret === 'string' ? new TextEncoder().encode(secret) : secret instanceof Uint8Array ? secret : undefined;

/** Whether `secret` is one of {@link SECRET_RULE}. */
export const isSecret = (secret: unknown): boolean => (keyOf(secret)?.length ?? 0) >= MIN_SECRET_BYTES;

/**
 * Mints an HS256 JWT that the reference server configured with `auth: { jwtSecret: secret }` accepts,
 * for development, tests and demos. A production app gets its tokens from its identity provider.
 */
export async function createToken(options: CreateTokenOptions): Promise<string> {
  const { secret, userId, roles = [], permissions = [], expiresInSec = 3600 } = options;
  const key = keyOf(secret);
  if (!key || key.length < MIN_SECRET_BYTES) {
    const received = secret === undefined ? 'undefined (no secret)' : `a secret of ${key?.length ?? 0} bytes`;
    throw new InvalidOptionError('secret', SECRET_RULE, undefined, received);
  }
  if (!isUserId(userId)) throw new InvalidOptionError('userId', `a user id of ${USER_ID_RULE}`, userId);
  for (const [name, list] of [['roles', roles], ['permissions', permissions]] as const) {
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) throw new InvalidOptionError(name, 'an array of strings', list);
  }
  if (!Number.isFinite(expiresInSec)) throw new InvalidOptionError('expiresInSec', 'a finite number of seconds', expiresInSec);
  dependencies.require('jose', 'createToken()');
  const { SignJWT } = await loadJose();
  const jwt = new SignJWT({ roles: [...roles], permissions: [...permissions] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000 + expiresInSec));
  if (options.issuer !== undefined) jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt.setAudience(options.audience);
  return jwt.sign(key);
}
