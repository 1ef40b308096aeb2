// @vitest-environment happy-dom
import { createElement, useEffect } from 'react';
import { describe, expect, it } from 'vitest';
import { createPool } from '../../../src/index.js';
import { usePoolStatus } from '../../../src/react/index.js';
import { harness } from '../../support/harness.js';
import { render } from '../../support/react-dom.js';

/** A socket that never opens nor closes: the pool's state stays where the first start puts it. */
class SilentSocket {
  static CONNECTING = 0; static OPEN = 1; static CLOSING = 2; static CLOSED = 3;
  readyState = 0; binaryType = 'blob'; protocol = ''; extensions = ''; bufferedAmount = 0;
  onopen = null; onclose = null; onerror = null; onmessage = null;
  constructor(public url: string) {}
  addEventListener() {}
  removeEventListener() {}
  send() {}
  close() {}
}

describe('usePoolStatus: a change between render and subscription', () => {
  it('is shown (useSyncExternalStore re-reads the snapshot after subscribing)', async () => {
    const h = harness();
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: SilentSocket as never }, clock: h.clock, environment: h.env, staggerMs: 0 });
    // a child starts the pool in its effect, which runs before the parent's subscription
    const Starter = () => {
      useEffect(() => void pool.start(), []);
      return null;
    };
    const Status = () => {
      const status = usePoolStatus(pool);
      return createElement('b', null, `${status.state}/${status.connections.a}`, createElement(Starter));
    };
    const container = await render(createElement(Status), false);
    const now = pool.status();
    expect(container.textContent).toBe(`${now.state}/${now.connections.a}`);
    expect(now.connections.a).not.toBe('idle');
  });

  it("is shown when only a connection's status changed (the pool's state and health unchanged)", async () => {
    const h = harness();
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket: SilentSocket as never }, clock: h.clock, environment: h.env, staggerMs: 0 });
    pool.start();
    await h.settle();
    const before = pool.status();
    // a child closes the connection in its effect, which runs before the parent's subscription
    const Closer = () => {
      useEffect(() => void pool.connection('a')!.stop(), []);
      return null;
    };
    const Status = () => {
      const status = usePoolStatus(pool);
      return createElement('b', null, `${status.state}/${status.health}/${status.connections.a}`, createElement(Closer));
    };
    const container = await render(createElement(Status), false);
    const now = pool.status();
    expect({ state: now.state, health: now.health }).toEqual({ state: before.state, health: before.health });
    expect(now.connections.a).not.toBe(before.connections.a);
    expect(container.textContent).toBe(`${now.state}/${now.health}/${now.connections.a}`);
    pool.dispose();
  });
});
