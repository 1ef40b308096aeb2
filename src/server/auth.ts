import type { IncomingMessage } from 'node:http';
import type { JWTPayload } from 'jose';
import type * as Zod from 'zod';
import { dependencies, loadJose } from './dependencies.js';
import { TOKEN_SUBPROTOCOL_PREFIX } from '../protocol/wire.js';
import { isUserId, USER_ID_RULE } from './user-id.js';
import { scrubSecret } from './logger.js';


/** How a client presents its token. */
export type TokenMode = 'message' | 'subprotocol' | 'query';

/** Who is on the other end of a connection, as established by the token. */
export interface Identity {
  readonly userId: string;
  /** Epoch milliseconds at which the session ends (the token's `exp`); the socket is closed with 4001 then. */
  readonly expiresAt?: number;
  readonly roles: readonly string[];
  readonly permissions: readonly string[];
  /** Every claim of the token (or what a custom `verify` returned). */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** What a custom `verify(token)` hook resolves with; throwing (or rejecting) refuses the token. */
export interface VerifiedToken {
  userId: string;
  /** Epoch milliseconds. */
  expiresAt?: number;
  roles?: readonly string[];
  permissions?: readonly string[];
  claims?: Record<string, unknown>;
}

export type VerifyToken = (token: string) => VerifiedToken | Promise<VerifiedToken>;

/** A refused token; `reason` is safe to log and to send (it never contains the token). */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
}

export interface AuthenticatorOptions {
  jwtSecret?: string | Uint8Array;
  verify?: VerifyToken;
  issuer?: string;
  audience?: string;
  clockToleranceSec: number;
  requireExp?: boolean;
}

export type Authenticate = (token: string) => Promise<Identity>;

const { z } = dependencies.core<typeof Zod>('zod');

const verifiedSchema = z.object({
  userId: z.string(),
  expiresAt: z.number().finite().optional(),
  roles: z.array(z.string()).optional(),
  permissions: z.array(z.string()).optional(),
  claims: z.record(z.string(), z.unknown()).optional(),
});

const stringList = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];

function identityFromClaims(payload: JWTPayload): Identity {
  const userId = payload.sub;
  if (typeof userId !== 'string' || userId.length === 0) throw new AuthenticationError('token has no usable "sub" claim');
  if (!isUserId(userId)) throw new AuthenticationError(`the "sub" claim is not a valid user id (${USER_ID_RULE})`);
  const scope = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
  return {
    userId,
    ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 } : {}),
    roles: stringList(payload.roles),
    permissions: [...stringList(payload.permissions), ...scope],
    claims: payload,
  };
}

const NO_EXPIRY = 'token has no expiry';

function joseReason(error: unknown, joseErrors: typeof import('jose').errors): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim "${error.claim}" is invalid`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'invalid signature';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'malformed token';
  if (error instanceof AuthenticationError) return error.message;
  return 'token rejected';
}

/** Builds the token check: HS256 JWTs with `jose`, or the custom `verify` hook when given. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticate {
  const { verify } = options;
  if (verify) {
    return async (token) => {
      let result: unknown;
      try {
        result = await verify(token);
      } catch (error) {
        const message = error instanceof Error ? scrubSecret(error.message.slice(0, 400), token).slice(0, 200) : 'token rejected';
        throw new AuthenticationError(message || 'token rejected');
      }
      const parsed = verifiedSchema.safeParse(result);
      if (!parsed.success) throw new AuthenticationError('verify() returned no usable identity');
      const { userId, expiresAt, roles, permissions, claims } = parsed.data;
      if (!isUserId(userId)) throw new AuthenticationError(`verify() returned an invalid user id (${USER_ID_RULE})`);
      if (expiresAt === undefined && options.requireExp) throw new AuthenticationError(NO_EXPIRY);
      if (expiresAt !== undefined && Date.now() >= expiresAt + options.clockToleranceSec * 1000) throw new AuthenticationError('token expired');
      return { userId, ...(expiresAt === undefined ? {} : { expiresAt }), roles: roles ?? [], permissions: permissions ?? [], claims: claims ?? {} };
    };
  }
  const secret = options.jwtSecret;
  if (secret === undefined) throw new Error('createAuthenticator needs jwtSecret or verify');
  /** A copy: what the caller later writes into its buffer (zeroing it) does not change the key. */
  const key = typeof secret === 'string' ? new TextEncoder().encode(secret) : Uint8Array.from(secret);
  dependencies.require('jose', 'auth.jwtSecret');
  return async (token) => {
    const { jwtVerify, errors } = await loadJose();
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['HS256'],
        clockTolerance: options.clockToleranceSec,
        ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
        ...(options.audience === undefined ? {} : { audience: options.audience }),
      });
      if (payload.exp === undefined && options.requireExp) throw new AuthenticationError(NO_EXPIRY);
      return identityFromClaims(payload);
    } catch (error) {
      throw new AuthenticationError(joseReason(error, errors));
    }
  };
}

/** Offered subprotocols, as sent in `Sec-WebSocket-Protocol`. */
export function offeredProtocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (typeof header !== 'string') return [];
  return header
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** The query of a request target, read without parsing the rest (a target like `//[` is no URL, and still has a query). */
function queryOf(target: string | undefined): URLSearchParams {
  const question = target?.indexOf('?') ?? -1;
  return new URLSearchParams(question < 0 ? '' : target!.slice(question + 1));
}

/** The token carried by the handshake itself (subprotocol or query), if the mode is enabled and present. */
export function handshakeToken(
  request: IncomingMessage,
  modes: ReadonlySet<TokenMode>,
  queryParam: string,
): { token: string; mode: 'subprotocol' | 'query' } | undefined {
  if (modes.has('subprotocol')) {
    const entry = offeredProtocols(request).find((protocol) => protocol.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
    const token = entry?.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
    if (token) return { token, mode: 'subprotocol' };
  }
  if (modes.has('query')) {
    const token = queryOf(request.url).get(queryParam);
    if (token) return { token, mode: 'query' };
  }
  return undefined;
}

/** Protocol names safe to log: token entries are replaced. */
export const loggableProtocols = (protocols: readonly string[]): string[] =>
  protocols.map((protocol) => (protocol.startsWith(TOKEN_SUBPROTOCOL_PREFIX) ? `${TOKEN_SUBPROTOCOL_PREFIX}[redacted]` : protocol.slice(0, 64)));
