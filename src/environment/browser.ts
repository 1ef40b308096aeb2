import type { EnvironmentEvent, EnvironmentSource } from './environment.js';

interface EventTargetLike {
  addEventListener(type: string, listener: (event: { persisted?: boolean }) => void): void;
  removeEventListener(type: string, listener: (event: { persisted?: boolean }) => void): void;
}

/**
 * Network and page-lifecycle events from `window` and `document`: online/offline, visibilitychange,
 * freeze/resume and pageshow (a page restored from the back/forward cache counts as `resume`; a page
 * resumed while still hidden counts as `hidden`).
 * Returns `undefined` outside a browser.
 */
export function browserEnvironment(): EnvironmentSource | undefined {
  const g = globalThis as { window?: EventTargetLike; document?: EventTargetLike & { visibilityState?: string }; navigator?: { onLine?: boolean } };
  const win = g.window;
  const doc = g.document;
  if (!win || !doc || typeof win.addEventListener !== 'function') return undefined;
  return {
    isOnline: () => g.navigator?.onLine !== false,
    isHidden: () => doc.visibilityState === 'hidden',
    subscribe(listener: (event: EnvironmentEvent) => void) {
      /** A page unfrozen (or restored) while hidden is still hidden: it resumes when it becomes visible. */
      const resumed = () => listener(doc.visibilityState === 'hidden' ? 'hidden' : 'resume');
      const bindings: Array<[EventTargetLike, string, (event: { persisted?: boolean }) => void]> = [
        [win, 'online', () => listener('online')],
        [win, 'offline', () => listener('offline')],
        [doc, 'visibilitychange', () => listener(doc.visibilityState === 'hidden' ? 'hidden' : 'visible')],
        [doc, 'freeze', () => listener('freeze')],
        [doc, 'resume', resumed],
        [win, 'pageshow', (event) => event.persisted && resumed()],
      ];
      for (const [target, type, fn] of bindings) target.addEventListener(type, fn);
      return () => {
        for (const [target, type, fn] of bindings) target.removeEventListener(type, fn);
      };
    },
  };
}
