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

/** A stubbed page: window and document as event targets, the document visible and the network up unless told. */
function page({ visibility = 'visible', navigator = { onLine: true } as { onLine?: boolean } | undefined } = {}) {
  const win = new Target();
  const doc = Object.assign(new Target(), { visibilityState: visibility });
  vi.stubGlobal('window', win);
  vi.stubGlobal('document', doc);
  vi.stubGlobal('navigator', navigator);
  const environment = browserEnvironment()!;
  const heard: string[] = [];
  const off = environment.subscribe((event) => heard.push(event));
  return { win, doc, environment, heard, off };
}

const listening = (target: Target) => [...target.listeners.values()].reduce((sum, set) => sum + set.size, 0);

describe('browserEnvironment', () => {
  it('is undefined outside a browser: without a window, a document, or a window that takes listeners', () => {
    vi.stubGlobal('window', undefined);
    vi.stubGlobal('document', new Target());
    expect(browserEnvironment()).toBeUndefined();
    vi.stubGlobal('window', new Target());
    vi.stubGlobal('document', undefined);
    expect(browserEnvironment()).toBeUndefined();
    vi.stubGlobal('window', {});
    vi.stubGlobal('document', new Target());
    expect(browserEnvironment()).toBeUndefined();
  });

  it("tells window's online and offline as online and offline", () => {
    const { win, heard } = page();
    win.dispatch('offline');
    win.dispatch('online');
    expect(heard).toEqual(['offline', 'online']);
  });

  it("tells the document's visibilitychange as hidden or visible, as the document now is", () => {
    const { doc, heard } = page();
    doc.visibilityState = 'hidden';
    doc.dispatch('visibilitychange');
    doc.visibilityState = 'visible';
    doc.dispatch('visibilitychange');
    expect(heard).toEqual(['hidden', 'visible']);
  });

  it("tells the document's freeze as freeze, and its resume while visible as resume", () => {
    const { doc, heard } = page();
    doc.dispatch('freeze');
    doc.dispatch('resume');
    expect(heard).toEqual(['freeze', 'resume']);
  });

  it('tells a page restored from the back/forward cache as resume, or as hidden while it is hidden; a first load tells nothing', () => {
    const { win, doc, heard } = page();
    win.dispatch('pageshow', { persisted: false });
    expect(heard).toEqual([]);
    win.dispatch('pageshow', { persisted: true });
    doc.visibilityState = 'hidden';
    win.dispatch('pageshow', { persisted: true });
    expect(heard).toEqual(['resume', 'hidden']);
  });

  it('hears each event from where the browser fires it: network and pageshow on window, page lifecycle on document', () => {
    const { win, doc, heard } = page();
    for (const type of ['visibilitychange', 'freeze', 'resume']) win.dispatch(type, { persisted: true });
    for (const type of ['online', 'offline', 'pageshow']) doc.dispatch(type, { persisted: true });
    expect(heard).toEqual([]);
  });

  it('the function subscribe returns removes every listener from window and document: no event is told after it', () => {
    const { win, doc, heard, off } = page();
    expect([listening(win), listening(doc)]).toEqual([3, 3]);
    off();
    expect([listening(win), listening(doc)]).toEqual([0, 0]);
    win.dispatch('offline');
    doc.dispatch('freeze');
    expect(heard).toEqual([]);
  });

  it('is online unless navigator.onLine is false, and online when the browser cannot tell', () => {
    const { environment } = page({ navigator: { onLine: false } });
    expect(environment.isOnline!()).toBe(false);
    vi.stubGlobal('navigator', { onLine: true });
    expect(environment.isOnline!()).toBe(true);
    vi.stubGlobal('navigator', {});
    expect(environment.isOnline!()).toBe(true);
    vi.stubGlobal('navigator', undefined);
    expect(environment.isOnline!()).toBe(true);
  });

  it("is hidden while the document's visibilityState is hidden, and only then", () => {
    const { doc, environment } = page({ visibility: 'hidden' });
    expect(environment.isHidden!()).toBe(true);
    doc.visibilityState = 'visible';
    expect(environment.isHidden!()).toBe(false);
    doc.visibilityState = 'prerender';
    expect(environment.isHidden!(), 'a page being prerendered').toBe(false);
    Reflect.deleteProperty(doc, 'visibilityState');
    expect(environment.isHidden!(), 'a document that cannot tell').toBe(false);
  });
});
