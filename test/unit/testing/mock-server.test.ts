import { describe, expect, it } from 'vitest';
import { createMockServer } from '../../../src/testing/index.js';

describe('MockSocket.push', () => {
  it.each([
    ['a Uint8Array', new Uint8Array([1, 2, 3])],
    ['a view into a larger buffer', new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4)],
    ['a Node Buffer', Buffer.from([1, 2, 3])],
  ])('delivers %s as binary data (an ArrayBuffer of its bytes), not as its JSON', async (_, frame) => {
    const server = createMockServer();
    const ws = new server.WebSocket('ws://mock') as unknown as { binaryType: string; onmessage: ((event: { data: unknown }) => void) | null };
    ws.binaryType = 'arraybuffer';
    const got: unknown[] = [];
    ws.onmessage = (event) => got.push(event.data);
    await Promise.resolve();
    server.last!.push(frame);
    expect(got).toHaveLength(1);
    expect(got[0]).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(got[0] as ArrayBuffer)]).toEqual([1, 2, 3]);
  });
});

describe('MockSocket.close() before the handshake completes', () => {
  it('fails the connection as a browser or ws does: an error, then 1006 with wasClean false, and never an open', async () => {
    const server = createMockServer({ autoOpen: false });
    const ws = new server.WebSocket('ws://mock');
    const events: unknown[] = [];
    ws.onopen = () => events.push('open');
    ws.onerror = () => events.push('error');
    ws.onclose = (event) => events.push({ code: event.code, wasClean: event.wasClean });
    ws.close(1000, 'bye');
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(events).toEqual(['error', { code: 1006, wasClean: false }]);
    expect(ws.readyState).toBe(3);
  });
});
