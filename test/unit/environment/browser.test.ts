import { afterEach, describe, expect, it, vi } from 'vitest';
import { browserEnvironment } from '../../../src/environment/browser.js';
import { harness } from '../../support/harness.js';

/** The browser's network and page-lifecycle events as socketchart's environment events (window and document stubbed). */

type Fn = (event: { persisted?: boolean }) => void;
class Target {
  readonly listeners = new Map<string, Set<Fn>>();
  addEventListener(type: string, fn: Fn) {
    (this.listeners.get(type) ?? this.listeners.set(type, new Set()).get(type)!).add(fn);
  }
  removeEventListener(type: string, fn: Fn) {
    this.listeners.get(type)?.delete(fn);
  }
  dispatch(type: string, event: { persisted?: boolean } = {}) {
    for (const fn of [...(this.listeners.get(type) ?? [])]) fn(event);
  }
}

afterEach(() => vi.unstubAllGlobals());

describe('browserEnvironment: a frozen page resumed while still hidden', () => {
  it('stays hidden: a closeWhenHidden connection does not dial until the page is visible', async () => {
    const win = new Target();
    const doc = Object.assign(new Target(), { visibilityState: 'visible' });
    vi.stubGlobal('window', win);
    vi.stubGlobal('document', doc);
    const environment = browserEnvironment()!;
    const h = harness({ environment, closeWhenHidden: true });
    await h.connect();
    expect(h.connection.status).toBe('connected');

    doc.visibilityState = 'hidden';
    doc.dispatch('visibilitychange');
    doc.dispatch('freeze');
    await h.settle();
    expect(h.connection.status).toBe('suspended');
    expect(h.server.sockets).toHaveLength(1);

    doc.dispatch('resume'); // unfrozen, but the tab is still in the background
    await h.advance(1_000);
    expect(environment.isHidden!()).toBe(true);
    expect(h.connection.status, 'the page is still hidden').toBe('suspended');
    expect(h.server.sockets, 'no dial while hidden').toHaveLength(1);
  });
});
