import { describe, expect, it } from 'vitest';
import { createMockServer, type MockServer } from '../../../src/testing/index.js';
import { expectEveryDialQueued, poolHarness } from '../../support/pool-harness.js';

const PRIMARY = 'ws://primary.test/feed';
const BACKUP = 'ws://backup.test/feed';
const FALLBACK = 'ws://fallback.test/feed';

/** A pool whose `feed` endpoint has several urls, each served by a mock server of its own; `other` is a plain endpoint. */
function failoverPool(urls: string[]) {
  const servers = new Map<string, MockServer>(urls.map((url) => [url, createMockServer()]));
  const h = poolHarness(
    { staggerMs: 0, defaults: { circuit: false, heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } } },
    {
      endpoints: [
        { name: 'other', priority: 2, url: 'ws://mock.test/other' },
        { name: 'feed', priority: 1, url: urls, failover: { after: 2, primaryRetryMs: 60_000 } },
      ],
      route: (url, server) => servers.get(url) ?? server,
    },
  );
  const feed = h.connection('feed');
  return { ...h, servers, feed, serverOf: (url: string) => servers.get(url)! };
}

describe('pool failover across an endpoint\'s urls', () => {
  it('moves to the backup after failover.after failed dials, as a pool failover event and in the snapshot', async () => {
    const h = failoverPool([PRIMARY, BACKUP]);
    h.serverOf(PRIMARY).refusing = true;
    h.pool.start();
    await h.settle();
    expect(h.feed.url).toBe(PRIMARY);
    await h.advanceBy(200, 100);
    expect(h.dialsOf('feed').map((dial) => dial.url)).toEqual([PRIMARY, PRIMARY, BACKUP]);
    expect(h.failovers).toEqual([{ name: 'feed', from: 0, to: 1, url: BACKUP }]);
    expect(h.feed.status).toBe('connected');
    expect(h.feed.snapshot.context.urlIndex).toBe(1);
    expect(h.feed.url).toBe(BACKUP);
    expect(h.pool.status().health).toBe('up');
    expect(h.connection('other').dials, 'other endpoints are not affected').toBe(1);
  });

  it('every dial of a failover, primary and backup alike, waits for a permit of the pool', async () => {
    const h = failoverPool([PRIMARY, BACKUP]);
    h.serverOf(PRIMARY).refusing = true;
    h.pool.start();
    await h.settle();
    await h.advanceBy(200, 100);
    expect(h.granted()).toBe(h.dials.length);
    expect(h.statesOf('feed')).toEqual(['queued', 'connecting', 'reconnecting', 'queued', 'connecting', 'reconnecting', 'queued', 'connecting', 'connected']);
    expectEveryDialQueued(h.states);
  });

  it('probes the primary again after primaryRetryMs and goes back to it when it answers', async () => {
    const h = failoverPool([PRIMARY, BACKUP]);
    h.serverOf(PRIMARY).refusing = true;
    h.pool.start();
    await h.settle();
    await h.advanceBy(200, 100);
    expect(h.feed.url).toBe(BACKUP);
    expect(h.feed.status).toBe('connected');
    h.serverOf(PRIMARY).refusing = false;
    await h.advance(60_000);
    h.socketOf('feed').drop();
    await h.settle();
    await h.advance(h.feed.snapshot.context.retryDelayMs);
    expect(h.dialsOf('feed').at(-1)?.url).toBe(PRIMARY);
    expect(h.feed.status).toBe('connected');
    expect(h.failovers).toEqual([
      { name: 'feed', from: 0, to: 1, url: BACKUP },
      { name: 'feed', from: 1, to: 0, url: PRIMARY },
    ]);
    expect(h.feed.snapshot.context.urlIndex).toBe(0);
    expect(h.feed.url).toBe(PRIMARY);
  });

  it('walks primary → backup → fallback and wraps around to the primary', async () => {
    const h = failoverPool([PRIMARY, BACKUP, FALLBACK]);
    for (const url of [PRIMARY, BACKUP, FALLBACK]) h.serverOf(url).refusing = true;
    h.pool.start();
    await h.settle();
    await h.advanceBy(1_000, 50);
    const urls = h.dialsOf('feed').map((dial) => dial.url);
    expect(urls.slice(0, 7)).toEqual([PRIMARY, PRIMARY, BACKUP, BACKUP, FALLBACK, FALLBACK, PRIMARY]);
    expect(h.failovers.slice(0, 3).map(({ from, to }) => [from, to])).toEqual([[0, 1], [1, 2], [2, 0]]);
    h.serverOf(FALLBACK).refusing = false;
    await h.advanceBy(10_000, 100);
    expect(h.feed.status).toBe('connected');
    expect(h.feed.url).toBe(FALLBACK);
    expect(h.feed.snapshot.context.urlIndex).toBe(2);
    expect(h.granted(), 'one permit per dial throughout').toBe(h.dials.length);
  });
});
