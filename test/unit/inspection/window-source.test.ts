import { afterEach, describe, expect, it } from 'vitest';
import { listenToWindows } from '../../../inspector/src/sources.js';
import type { Rec } from '../../../inspector/src/store.js';

const saved = { window: (globalThis as { window?: unknown }).window, document: (globalThis as { document?: unknown }).document };
afterEach(() => {
  (globalThis as { window?: unknown }).window = saved.window;
  (globalThis as { document?: unknown }).document = saved.document;
});

/** A page window, opened by the app's window (what createBrowserInspector({ url }) does). */
function pageWindow() {
  const target = new EventTarget() as EventTarget & { opener: unknown; parent: unknown };
  target.opener = { postMessage: () => {} };
  target.parent = target;
  (globalThis as { window?: unknown }).window = target;
  (globalThis as { document?: unknown }).document = { readyState: 'complete' };
  return {
    post(data: unknown) {
      const event = new Event('message') as Event & { data: unknown };
      event.data = data;
      target.dispatchEvent(event);
    },
  };
}

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJlLXNlY3JldA';

describe('the inspector page, fed by a window (createBrowserInspector({ url })) through postMessage', () => {
  it('removes a password, a bearer token and a JWT from what a window posts, and from the definition of an actor, as the server does for sockets', () => {
    const win = pageWindow();
    const ingested: Rec[] = [];
    listenToWindows((record) => ingested.push(record));
    win.post({
      type: '@xstate.snapshot',
      sessionId: 'x:0',
      rootId: 'x:0',
      _version: '0.7.2',
      createdAt: '1',
      id: null,
      event: { type: 'login', password: 'SECRET-window-pw' },
      snapshot: { status: 'active', value: 'in', context: { header: 'Bearer SECRET-window-bearer', idToken: JWT } },
    });
    win.post({
      type: '@xstate.actor',
      sessionId: 'x:1',
      name: 'login',
      _version: '0.7.2',
      createdAt: '1',
      id: null,
      snapshot: { status: 'active' },
      definition: JSON.stringify({ id: 'login', context: { apiKey: 'SECRET-window-definition' } }),
    });
    expect(ingested).toHaveLength(2);
    const text = JSON.stringify(ingested);
    expect(text).not.toContain('SECRET-window-definition');
    expect(text).toContain('"type":"login"');
    expect(text).not.toContain('SECRET-window-pw');
    expect(text).not.toContain('SECRET-window-bearer');
    expect(text).not.toContain(JWT);
  });
});
