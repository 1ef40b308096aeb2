import type { Rec } from './store.js';
import { redactJsonText, redactRecord } from '../../src/inspection/redact.js';

export type SourceStatus = 'connecting' | 'live' | 'offline';

/**
 * The inspector server's page socket (`/_page`): batches of records, first everything kept, then live.
 * It dials again while the server is away; a new connection replays from the start, so `onReset` comes first:
 * what the server sent before is to be replaced (what a window posted is not the server's to replace).
 */
export function connectServer(handlers: { onBatch(records: Rec[]): void; onStatus(status: SourceStatus): void; onReset(): void }): { close(): void } {
  let socket: WebSocket | undefined;
  let closed = false;
  let opened = false;
  const dial = () => {
    if (closed) return;
    handlers.onStatus('connecting');
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/_page`);
    socket = ws;
    ws.onopen = () => {
      if (opened) handlers.onReset();
      opened = true;
      handlers.onStatus('live');
    };
    ws.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      try {
        const batch = JSON.parse(event.data) as unknown;
        if (Array.isArray(batch)) handlers.onBatch(batch as Rec[]);
      } catch {
        // not ours
      }
    };
    ws.onclose = () => {
      if (closed) return;
      handlers.onStatus('offline');
      setTimeout(dial, 1_000);
    };
  };
  dial();
  return {
    close() {
      closed = true;
      socket?.close();
    },
  };
}

/** A record from outside the server (a window, a file) with what looks like a credential removed, as the server does for what apps send; its definition too. */
function redacted(rec: Rec): Rec {
  redactRecord(rec);
  if (rec.type === '@xstate.actor' && typeof rec.definition === 'string') rec.definition = redactJsonText(rec.definition);
  return rec;
}

const isStatelyEvent = (data: unknown): data is Rec =>
  typeof data === 'object' && data !== null && typeof (data as Rec).type === 'string' && typeof (data as { _version?: unknown })._version === 'string';

/** Prefix of ids of records posted by a window, so they never collide with the server's. */
const WINDOW_PREFIX = 'w:';

/** Whether a record was posted by a window (`listenToWindows`), not sent by the server. */
export const postedByWindow = (record: { sessionId?: unknown }): boolean => typeof record.sessionId === 'string' && record.sessionId.startsWith(WINDOW_PREFIX);

/**
 * `@statelyai/inspect`'s `createBrowserInspector({ url })`: the app's window opened this page (or holds it
 * in an iframe) and posts each event once told `@statelyai.connected`.
 */
export function listenToWindows(onRecord: (record: Rec) => void): { connected: boolean } {
  const state = { connected: false };
  window.addEventListener('message', (event) => {
    if (!isStatelyEvent(event.data)) return;
    const rec = redacted({ ...event.data } as Rec);
    for (const key of ['sessionId', 'parentId', 'sourceId', 'rootId'] as const) {
      const value = rec[key];
      if (typeof value === 'string' && value !== 'anonymous') rec[key] = WINDOW_PREFIX + value;
    }
    state.connected = true;
    onRecord(rec);
  });
  const hello = (target: Window) => target.postMessage({ type: '@statelyai.connected' }, '*');
  if (window.opener) hello(window.opener as Window);
  else if (window.parent !== window) {
    // In an iframe the app starts posting to it on the iframe element's `load`, which follows this page's own.
    const parent = window.parent;
    const afterLoad = () => setTimeout(() => hello(parent), 50);
    if (document.readyState === 'complete') afterLoad();
    else window.addEventListener('load', afterLoad, { once: true });
  }
  return state;
}

const isRecording = (value: unknown): value is Rec =>
  isStatelyEvent(value) || (typeof value === 'object' && value !== null && (value as Rec).type === '@socketchart.definition');

/**
 * Reads a recording (JSON lines; a JSON array too, one cut short up to its last whole line); what is unreadable is
 * left out, and what looks like a credential removed (a file may come from anywhere).
 */
export function parseRecording(text: string): Rec[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      const all = JSON.parse(trimmed) as unknown;
      if (Array.isArray(all)) return all.filter(isRecording).map(redacted);
    } catch {
      // cut short: read it a line at a time
    }
  }
  const out: Rec[] = [];
  for (const raw of trimmed.split('\n')) {
    const line = raw.trim().replace(/^\[/, '').replace(/[,\]]+$/, '');
    if (!line) continue;
    try {
      const value = JSON.parse(line) as unknown;
      if (isRecording(value)) out.push(redacted(value));
    } catch {
      // a line that is not JSON is skipped
    }
  }
  return out;
}
