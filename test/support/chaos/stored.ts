import WebSocket from 'ws';
import { isNumbered, type Numbered } from './ledger.js';

export interface StoredEntry extends Numbered {
  seq: number;
}

export interface StoredChannel {
  entries: StoredEntry[];
  /** Gaps the server reported while replaying from the beginning (none expected while history covers everything). */
  gaps: Array<{ from: number; to: number }>;
}

/**
 * Reads back what the server stored on each channel, with the plain wire protocol (not the engine under
 * test): `auth`, then `subscribe {ch, since: 0}`, which replays every retained message from the first.
 * Every channel must hold at least one message (the read ends when each reaches its latest number).
 */
export function readStored(url: string, token: string, channels: readonly string[], timeoutMs = 5_000): Promise<Map<string, StoredChannel>> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const result = new Map<string, StoredChannel>(channels.map((ch) => [ch, { entries: [], gaps: [] }]));
    const current = new Map<string, number>();
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`reading the stored history timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      ws.close();
      resolve(result);
    };
    const complete = () =>
      channels.every((ch) => {
        const head = current.get(ch);
        if (head === undefined) return false;
        const { entries, gaps } = result.get(ch)!;
        const last = Math.max(entries.at(-1)?.seq ?? 0, gaps.at(-1)?.to ?? 0);
        return last === head;
      });
    ws.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token })));
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as { type?: string; ch?: string; seq?: number; data?: unknown; from?: number; to?: number };
      if (frame.type === 'auth_ok') {
        for (const ch of channels) ws.send(JSON.stringify({ type: 'subscribe', ch, since: 0 }));
        return;
      }
      const channel = typeof frame.ch === 'string' ? result.get(frame.ch) : undefined;
      if (!channel || frame.ch === undefined) return;
      if (frame.type === 'subscribed' && typeof frame.seq === 'number') current.set(frame.ch, frame.seq);
      else if (frame.type === 'gap' && typeof frame.from === 'number' && typeof frame.to === 'number') channel.gaps.push({ from: frame.from, to: frame.to });
      else if (frame.type === 'message' && typeof frame.seq === 'number') {
        if (!isNumbered(frame.data)) {
          clearTimeout(timer);
          ws.terminate();
          reject(new Error(`stored message ${frame.seq} on ${frame.ch} is not numbered`));
          return;
        }
        channel.entries.push({ src: frame.data.src, n: frame.data.n, seq: frame.seq });
      }
      if (complete()) done();
    });
  });
}
