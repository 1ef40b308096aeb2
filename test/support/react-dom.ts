import { StrictMode, act, createElement, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { afterEach } from 'vitest';
import type { Harness } from './harness.js';

/** Rendering React elements into a DOM (happy-dom) for the specs of socketchart/react; unmounted after each spec. */

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const mounted: { root: Root | undefined; strict: boolean } = { root: undefined, strict: true };

afterEach(async () => {
  await unmount();
});

const wrap = (element: ReactNode) => (mounted.strict ? createElement(StrictMode, null, element) : element);

/** Renders `element` in a new root (under StrictMode unless `strict` is false); returns its container. */
export async function render(element: ReactNode, strict = true): Promise<HTMLElement> {
  const container = document.createElement('div');
  mounted.root = createRoot(container);
  mounted.strict = strict;
  await act(async () => mounted.root!.render(wrap(element)));
  return container;
}

/** Renders `element` in the same root (a new element type mounts anew; the same type updates). */
export async function rerender(element: ReactNode): Promise<void> {
  await act(async () => mounted.root!.render(wrap(element)));
}

/** Unmounts the root, if any. */
export async function unmount(): Promise<void> {
  const root = mounted.root;
  mounted.root = undefined;
  if (root) await act(async () => root.unmount());
}

/** Lets the mock server's frames and the effects land, inside act(). */
export const flush = (h: Harness) => act(async () => h.settle());

/** Options of a connection to the harness's mock server, clock and environment. */
export const connectionOptions = (h: Harness) => ({ url: 'ws://mock.test/socket', WebSocket: h.server.WebSocket, clock: h.clock, environment: h.env });
