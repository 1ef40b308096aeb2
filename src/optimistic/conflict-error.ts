import { ErrorCode, SocketchartError } from '../protocol/errors.js';
import type { OptimisticConflict } from './types.js';

/** Rejects a local change that lost a conflict resolved as `'theirs'`; the value shown went back to theirs. */
export class OptimisticConflictError<Value = unknown, Change = unknown> extends SocketchartError {
  /** Id of the local change that was given up. */
  declare readonly messageId: string;
  readonly conflict: OptimisticConflict<Value, Change>;

  /** `cause`: what `merge` threw when the change no longer applied on top of theirs. */
  constructor(messageId: string, conflict: OptimisticConflict<Value, Change>, cause?: unknown) {
    super(ErrorCode.CONFLICT, {
      message: `The change to "${conflict.key}" lost a conflict with another client's message`,
      recovery: 'fail',
      messageId,
      cause,
    });
    this.conflict = conflict;
  }
}

export const isOptimisticConflictError = (value: unknown): value is OptimisticConflictError =>
  value instanceof OptimisticConflictError;

/** What `update()` rejects with. */
export type OptimisticUpdateError = SocketchartError | OptimisticConflictError<unknown, unknown>;
