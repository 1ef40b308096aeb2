import { describe, expect, it } from 'vitest';
import { harness, type Harness } from '../../support/harness.js';

const urls = ['ws://primary.test/ws', 'ws://backup.test/ws', 'ws://fallback.test/ws'];
const options = { url: urls, failover: { after: 2, primaryRetryMs: 60_000 }, reconnect: { baseMs: 100, capMs: 100 }, circuit: false as const };

/** A connection that failed over: the primary refused its first two dials, and it is connected to the backup. */
async function connectedOnBackup(before: (h: Harness) => void = () => {}) {
  const h = harness(options);
  before(h);
  h.server.refusing = true;
  h.connection.start();
  await h.settle();
  await h.advance(100);
  h.server.refusing = false;
  await h.advance(100);
  return h;
}

describe('url failover', () => {
  it('dials the primary first', async () => {
    const h = harness(options);
    await h.connect();
    expect(h.server.last!.url).toBe(urls[0]);
  });

  it('moves to the next url after failover.after consecutive failures, and says so', async () => {
    const h = harness(options);
    const moves: Array<[number, number]> = [];
    h.connection.on('failover', ({ from, to }) => moves.push([from, to]));
    h.server.refusing = true;
    h.connection.start();
    await h.settle();
    await h.advance(100);
    expect(h.server.sockets.map((s) => s.url)).toEqual([urls[0], urls[0]]);
    h.server.refusing = false;
    await h.advance(100);
    expect(h.server.last!.url).toBe(urls[1]);
    expect(h.connection.status).toBe('connected');
    expect(moves).toEqual([[0, 1]]);
    expect(h.connection.snapshot.context.urlIndex).toBe(1);
  });

  it('walks on to the fallback when the backup fails too, and wraps around', async () => {
    const h = harness(options);
    h.server.refusing = true;
    h.connection.start();
    await h.settle();
    for (let i = 0; i < 6; i++) await h.advance(100);
    expect(h.server.sockets.map((s) => s.url)).toEqual([urls[0], urls[0], urls[1], urls[1], urls[2], urls[2], urls[0]]);
  });

  it('probes the primary again on the first dial after primaryRetryMs, and stays there when it answers', async () => {
    const moves: Array<[number, number]> = [];
    const h = await connectedOnBackup((h) => h.connection.on('failover', ({ from, to }) => moves.push([from, to])));
    expect(h.server.last!.url).toBe(urls[1]);
    await h.elapse(60_000);
    h.server.last!.drop();
    await h.settle();
    await h.advance(h.connection.snapshot.context.retryDelayMs);
    expect(h.server.last!.url).toBe(urls[0]);
    expect(h.connection.status).toBe('connected');
    expect(moves).toEqual([[0, 1], [1, 0]]);
  });

  it('a failed primary probe keeps the backup and waits another primaryRetryMs', async () => {
    const h = await connectedOnBackup();
    await h.elapse(60_000);
    h.server.refusing = true;
    h.server.last!.drop();
    await h.settle();
    await h.advance(100);
    expect(h.server.last!.url).toBe(urls[0]);
    h.server.refusing = false;
    await h.advance(100);
    expect(h.server.last!.url).toBe(urls[1]);
    expect(h.connection.status).toBe('connected');
  });

  it('dials the backup after moving to it even when the wait before that dial is longer than primaryRetryMs', async () => {
    const h = harness({ ...options, failover: { after: 1, primaryRetryMs: 1_000 }, reconnect: { baseMs: 2_000, capMs: 2_000 } });
    h.server.refusing = true;
    h.connection.start();
    await h.settle();
    await h.advance(2_000);
    expect(h.server.sockets.map((s) => s.url)).toEqual([urls[0], urls[1]]);
  });

  it('names a bad url in a list by its index', () => {
    expect(() => harness({ url: ['ws://ok.test', 'http://nope.test'] })).toThrow(/`url\[1\]`/);
  });
});

describe('primary retry on a dial that follows no failure', () => {
  it('offline → online long after primaryRetryMs dials the primary', async () => {
    const h = await connectedOnBackup();
    expect(h.server.last!.url).toBe(urls[1]);
    expect(h.connection.status).toBe('connected');
    await h.elapse(120_000); // twice primaryRetryMs on the backup
    h.env.emit('offline');
    await h.settle();
    h.env.emit('online');
    await h.settle();
    expect(h.connection.status).toBe('connected');
    expect(h.server.last!.url).toBe(urls[0]);
  });
});

describe('connection.url with several urls', () => {
  it('reads the url of the socket being dialed, the primary while it is probed from the backup', async () => {
    const h = await connectedOnBackup();
    const dialing: string[] = [];
    h.connection.on('state', ({ status }) => {
      if (status === 'connecting') dialing.push(h.connection.url);
    });
    await h.elapse(60_000);
    h.server.refusing = true;
    h.server.last!.drop();
    await h.settle();
    await h.advance(100);
    h.server.refusing = false;
    await h.advance(100);
    expect(h.server.sockets.slice(-2).map((s) => s.url), 'the primary probed, then the backup again').toEqual([urls[0], urls[1]]);
    expect(dialing).toEqual([urls[0], urls[1]]);
    expect(h.connection.url).toBe(urls[1]);
  });
});
