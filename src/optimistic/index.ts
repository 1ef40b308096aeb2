export { createOptimisticStore, OptimisticStore } from './optimistic-store.js';
export { OptimisticConflictError, isOptimisticConflictError, type OptimisticUpdateError } from './conflict-error.js';
export type {
  ChangeFromValue,
  ConflictPolicy,
  ConflictResolution,
  ConflictResolver,
  MergeChange,
  OptimisticChangeInput,
  OptimisticConflict,
  OptimisticConflictEvent,
  OptimisticConnection,
  OptimisticRollbackEvent,
  OptimisticStoreChange,
  OptimisticStoreEvents,
  OptimisticStoreOptions,
  OptimisticUpdateReceipt,
} from './types.js';
