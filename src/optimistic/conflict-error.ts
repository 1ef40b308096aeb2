import type { OptimisticConflict } from './types.js';

/** Rejects a local change that lost a conflict resolved as `'theirs'`; the value shown went back to theirs. */
export class OptimisticConflictError<Value = unknown, Change = unknown> extends Error {
  override readonly name = 'OptimisticConflictError';
  readonly code = 'CONFLICT';
  /** Id of the local change that was given up. */
  readonly messageId: string;
  readonly conflict: OptimisticConflict<Value, Change>;

  constructor(messageId: string, conflict: OptimisticConflict<Value, Change>) {
    super(`The change to "${conflict.key}" lost a conflict with another client's message`);
    this.messageId = messageId;
    this.conflict = conflict;
  }
}

export const isOptimisticConflictError = (value: unknown): value is OptimisticConflictError =>
  value instanceof OptimisticConflictError;
