import { fromPromise } from 'xstate';
import type { ConnectionRuntime } from './runtime.js';

/** Asks the token provider for a fresh token before the current one expires. */
export const tokenActor = fromPromise<string | undefined, ConnectionRuntime>(({ input: rt }) => rt.obtainToken('refresh'));
