import { act } from 'react';
// @ts-expect-error react-refresh ships no types
import * as runtime from 'react-refresh/runtime';

/**
 * React Fast Refresh, as a bundler's dev server runs it: imported before `react-dom`, so that React
 * reports its roots to the refresh runtime. `edit(id, component)` stands for saving a module that
 * defines `component` under `id`; `refresh()` applies what was edited.
 */

const refreshRuntime = runtime as {
  injectIntoGlobalHook(global: object): void;
  register(type: unknown, id: string): void;
  performReactRefresh(): unknown;
};

refreshRuntime.injectIntoGlobalHook(globalThis);

/** Registers `component` as the current version of the component `id` (its first version or an edit). */
export function edit<T>(id: string, component: T): T {
  refreshRuntime.register(component, id);
  return component;
}

/** Applies the edits made since the last refresh to the mounted roots, inside act(). */
export async function refresh(): Promise<void> {
  await act(async () => {
    refreshRuntime.performReactRefresh();
  });
}
