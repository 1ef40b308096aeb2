import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SocketchartServer } from '../../../src/server/index.js';
import { connectAs, startServer, type TestClient } from './helpers.js';

/**
 * The server's rate clock is `performance.timeOrigin + performance.now()`: faking it (and Date) alone moves
 * the buckets on at the spec's word, while sockets and timers stay real.
 */
describe('publishes behind one the rate limit refused', () => {
  let server: SocketchartServer;
  let publisher: TestClient;
  let reader: TestClient;
  let channel: string;
  let count = 0;
  const refill = () => vi.advanceTimersByTime(60_000);
  const publish = (id: string) => publisher.send({ type: 'publish', ch: channel, id, data: id });
  const answer = (id: string) => publisher.next((frame) => frame.id === id && (frame.type === 'ack' || frame.type === 'error'));

  beforeAll(async () => {
    server = await startServer({ rateLimits: { chat: { perMinute: 1, burst: 1 } }, floodThreshold: 1000 });
  });

  afterAll(async () => {
    await server.close();
  });

  beforeEach(async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'], now: Date.now() });
    channel = `chat:order-${++count}`;
    publisher = await connectAs(server, `publisher-${count}`);
    reader = await connectAs(server, `reader-${count}`);
    reader.send({ type: 'subscribe', ch: channel });
    await reader.nextOfType('subscribed');
    publish('a');
    expect(await answer('a')).toMatchObject({ type: 'ack' });
    publish('b');
    expect(await answer('b')).toMatchObject({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', retry_after: 60 });
    refill();
  });

  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all([publisher.close(), reader.close()]);
  });

  const stored = async (ids: string[]) => {
    for (const id of ids) await reader.next((frame) => frame.type === 'message' && frame.data === id);
    return reader.ofType('message', channel).map((frame) => frame.data);
  };

  it('refuses a later publish of the scope, though its token is back, until the refused one is sent again: stored order is sent order', async () => {
    publish('c');
    expect(await answer('c')).toMatchObject({ type: 'error', code: 'RATE_LIMIT_EXCEEDED', id: 'c' });
    publish('b');
    expect(await answer('b')).toMatchObject({ type: 'ack' });
    refill();
    publish('c');
    expect(await answer('c')).toMatchObject({ type: 'ack' });
    expect(await stored(['a', 'b', 'c'])).toEqual(['a', 'b', 'c']);
  });

  it('ends the wait when a publish refused during it is sent again: the one refused first was given up', async () => {
    publish('c');
    expect(await answer('c')).toMatchObject({ type: 'error', id: 'c' });
    publish('c');
    expect(await answer('c')).toMatchObject({ type: 'ack' });
    expect(await stored(['a', 'c'])).toEqual(['a', 'c']);
  });

  it('holds only the refused scope: a publish of another channel type is stored meanwhile', async () => {
    publisher.send({ type: 'publish', ch: 'news:meanwhile', id: 'n', data: 'n' });
    expect(await answer('n')).toMatchObject({ type: 'ack' });
  });

  it('holds only acknowledged publishes: one without an id, which is never sent again, is stored meanwhile', async () => {
    publisher.send({ type: 'publish', ch: channel, data: 'unacknowledged' });
    await reader.next((frame) => frame.type === 'message' && frame.data === 'unacknowledged');
    expect(publisher.ofType('error').map((frame) => frame.id)).toEqual(['b']);
  });
});
