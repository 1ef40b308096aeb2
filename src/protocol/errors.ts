import { MAX_TIMER_MS } from '../environment/clock.js';
import { ErrorCode } from './wire.js';

/** A server's `retry_after` (seconds) as the wait the client keeps: whole milliseconds, at most the longest timer. */
export const retryAfterWait = (seconds: number): number => Math.min(MAX_TIMER_MS, Math.round(seconds * 1000));

export { ErrorCode };

/**
 * What the engine does about an error.
 * - `retry`: reconnect with backoff (the connection survives).
 * - `refresh_token`: obtain a fresh token once, then fail if it is refused again.
 * - `fail`: the connection (or the single message) is given up; only `retry()` dials again.
 * - `none`: reported only; nothing changes.
 */
export type Recovery = 'retry' | 'refresh_token' | 'fail' | 'none';

/** The recovery each code takes by default (the seed's error table). */
export const defaultRecovery: Readonly<Record<ErrorCode, Recovery>> = {
  CONNECTION_FAILED: 'retry',
  AUTHENTICATION_FAILED: 'refresh_token',
  AUTHORIZATION_FAILED: 'fail',
  RATE_LIMIT_EXCEEDED: 'retry',
  MESSAGE_TOO_LARGE: 'fail',
  INVALID_MESSAGE_FORMAT: 'none',
  SERVER_ERROR: 'retry',
  NETWORK_ERROR: 'retry',
  TIMEOUT: 'retry',
  QUEUE_OVERFLOW: 'fail',
  MESSAGE_EXPIRED: 'fail',
  CLOSED: 'fail',
  INVALID_OPTION: 'fail',
  CONFLICT: 'fail',
};

export interface SocketchartErrorInit {
  message?: string;
  recovery?: Recovery;
  details?: unknown;
  /** WebSocket close code that caused the error, when there is one. */
  closeCode?: number;
  /** Milliseconds the server asked us to wait (`retry_after`). */
  retryAfterMs?: number;
  /** Id of the message the error belongs to, when it concerns one message. */
  messageId?: string;
  cause?: unknown;
}

/** Marks socketchart's errors, whichever copy of socketchart made them (an app may load its ESM and CommonJS builds). */
const BRAND = /* @__PURE__ */ Symbol.for('socketchart.error');

/** The one error type socketchart throws, rejects with and emits. */
export class SocketchartError extends Error {
  override readonly name = 'SocketchartError';
  readonly code: ErrorCode;
  readonly recovery: Recovery;
  readonly details?: unknown;
  readonly closeCode?: number;
  readonly retryAfterMs?: number;
  readonly messageId?: string;

  constructor(code: ErrorCode, init: SocketchartErrorInit = {}) {
    super(init.message ?? code, init.cause === undefined ? undefined : { cause: init.cause });
    Object.defineProperty(this, BRAND, { value: true });
    this.code = code;
    this.recovery = init.recovery ?? defaultRecovery[code];
    this.details = init.details;
    this.closeCode = init.closeCode;
    this.retryAfterMs = init.retryAfterMs;
    this.messageId = init.messageId;
  }

  /** A copy with some fields replaced (e.g. the recovery the engine actually takes). */
  with(changes: Pick<SocketchartErrorInit, 'message' | 'recovery' | 'details'>): SocketchartError {
    return new SocketchartError(this.code, {
      message: changes.message ?? this.message,
      recovery: changes.recovery ?? this.recovery,
      details: 'details' in changes ? changes.details : this.details,
      closeCode: this.closeCode,
      retryAfterMs: this.retryAfterMs,
      messageId: this.messageId,
      cause: this.cause,
    });
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      recovery: this.recovery,
      closeCode: this.closeCode,
      retryAfterMs: this.retryAfterMs,
      messageId: this.messageId,
      details: this.details,
    };
  }
}

/**
 * The error with its stack (and its causes' stacks) formatted now. Until `stack` is read, V8 keeps every
 * frame's receiver reachable from the error: an error the engine keeps, as `lastError`, would keep the
 * socket whose handler made it alive.
 */
export function releaseFrames<E extends Error>(error: E): E {
  let cause: unknown = error;
  for (let depth = 0; depth < 4 && cause instanceof Error; depth++, cause = cause.cause) void cause.stack;
  return error;
}

/** Whether `value` is a SocketchartError, also one made by another copy of socketchart (where `instanceof` says no). */
export const isSocketchartError = (value: unknown): value is SocketchartError =>
  value instanceof SocketchartError || (typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true);

/** Thrown at creation when an option is invalid; the message names the option. */
export class InvalidOptionError extends SocketchartError {
  readonly option: string;
  readonly expectation: string;
  readonly received: string;
  /** `receivedAs` describes the value in its place when the value must not appear (a secret). */
  constructor(option: string, expectation: string, received: unknown, receivedAs?: string) {
    const text = receivedAs ?? describe(received);
    super(ErrorCode.INVALID_OPTION, {
      message: `Invalid option \`${option}\`: expected ${expectation}, received ${text}`,
      details: { option },
    });
    this.option = option;
    this.expectation = expectation;
    this.received = text;
  }

  /** The same error for an option nested under `prefix` (e.g. an endpoint of a pool). */
  within(prefix: string): InvalidOptionError {
    return new InvalidOptionError(`${prefix}.${this.option}`, this.expectation, undefined, this.received);
  }
}

/** CLOSED: the connection is closed or failed (`status`), or was disposed. */
export const closedError = (status: 'closed' | 'failed' | 'disposed' | (string & {})): SocketchartError =>
  new SocketchartError(ErrorCode.CLOSED, { message: status === 'disposed' ? 'The connection was disposed' : `The connection is ${status}` });

/** INVALID_MESSAGE_FORMAT, final (recovery `fail`): a message that cannot be sent as it is, or an answer that cannot be used; trying again does not help. */
export const finalFormatError = (message: string, init: Omit<SocketchartErrorInit, 'message' | 'recovery'> = {}): SocketchartError =>
  new SocketchartError(ErrorCode.INVALID_MESSAGE_FORMAT, { message, recovery: 'fail', ...init });

/** CONNECTION_FAILED, for a connection that failed without an error of its own. */
export const failedError = (): SocketchartError => new SocketchartError(ErrorCode.CONNECTION_FAILED, { message: 'The connection failed' });

/** Throws InvalidOptionError naming `signal` unless it is an AbortSignal or absent. */
export function checkSignal(signal: unknown): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof (signal as AbortSignal).addEventListener !== 'function')) {
    throw new InvalidOptionError('signal', 'an AbortSignal', signal);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
