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

const MIN_SECRET_BYTES = 32;

/**
 * Mints an HS256 JWT that the reference server configured with `auth: { jwtSecret: secret }` accepts,
 * for development, tests and demos. A production app gets its tokens from its identity provider.
 */
export async function createToken(options: CreateTokenOptions): Promise<string> {
  const { secret, userId, roles = [], permissions = [], expiresInSec = 3600 } = options;
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
  if (!(key instanceof Uint8Array) || key.length < MIN_SECRET_BYTES) {
    const received = key === undefined ? 'undefined (no secret)' : `a secret of ${key instanceof Uint8Array ? key.length : 0} bytes`;
    throw new InvalidOptionError('secret', `a string or bytes of at least ${MIN_SECRET_BYTES} bytes`, undefined, received);
  }
  if (!isUserId(userId)) throw new InvalidOptionError('userId', `a user id of ${USER_ID_RULE}`, userId);
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
