import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnection, type Connection, type ConnectionOptions } from '../../src/index.node.js';
import { createServer, type ServerOptions, type SocketchartServer } from '../../src/server/index.js';
import { liveSocketCount } from '../../src/testing/index.js';
import { FaultProxy } from '../../src/testing/fault-proxy.js';
import { Ledger } from '../support/chaos/ledger.js';
import { clientPublisher, outstanding, serverPublisher, type Publisher } from '../support/chaos/publishers.js';
import { seededRandom, settle, sleep } from '../support/chaos/random.js';
import { readStored, type StoredChannel } from '../support/chaos/stored.js';
import { startRedis } from '../support/redis.js';
import { until } from '../support/until.js';

const HOST = '127.0.0.1';
const CHANNELS = ['feed:alpha', 'feed:beta', 'feed:gamma', 'feed:delta'];
const HEARTBEAT = { intervalMs: 200, timeoutMs: 400 };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
  expect(liveSocketCount(), 'sockets left open after dispose').toBe(0);
});

const baseServerOptions = (port: number): ServerOptions => ({
  port,
  host: HOST,
  auth: { verify: async (token) => ({ userId: token }) },
  channels: [{ pattern: 'feed:*', subscribe: true, publish: true }],
  logger: pino({ level: 'silent' }),
  shutdownTimeoutMs: 300,
  // the subject is reliability under faults, not throttling: limits far above the traffic
  rateLimits: { feed: { perMinute: 600_000, burst: 10_000 }, control: { perMinute: 600_000, burst: 10_000 } },
});

/** A server on `port`, retrying briefly while the port of a server that just closed is released. */
async function startServer(options: ServerOptions): Promise<SocketchartServer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await createServer(options);
    } catch (error) {
      if (attempt >= 20 || !String(error).includes('EADDRINUSE')) throw error;
      await sleep(50);
    }
  }
}

/** A connection with heartbeat, backoff and circuit shortened to the scale of the test. */
function connect(name: string, port: number, seed: number, extra: Partial<ConnectionOptions> = {}): Connection {
  return createConnection({
    url: `ws://${HOST}:${port}`,
    name,
    auth: { token: name },
    heartbeat: HEARTBEAT,
    reconnect: { baseMs: 30, capMs: 200, minUptimeMs: 500, restartWindowMs: 200 },
    circuit: { failureThreshold: 8, recoveryMs: 200, maxRecoveryMs: 400 },
    connectTimeoutMs: 600,
    authTimeoutMs: 1_000,
    acks: { timeoutMs: 1_000, maxAttempts: 1_000 },
    random: seededRandom(seed),
    ...extra,
  });
}

/**
 * Counts `subscribed` answers and acks the server marked `duplicate` (a resend it had already stored), and
 * checks on every state change that no connection holds two sockets.
 */
function watch(connections: readonly Connection[]) {
  const subscribed = new Map<Connection, number>(connections.map((connection) => [connection, 0]));
  const violations: string[] = [];
  let duplicateAcks = 0;
  for (const connection of connections) {
    connection.on('control', ({ type, frame }) => {
      if (type === 'subscribed') subscribed.set(connection, subscribed.get(connection)! + 1);
      if (type === 'ack' && frame.duplicate === true) duplicateAcks++;
    });
    connection.on('state', ({ status }) => {
      if (liveSocketCount() > connections.length) violations.push(`${connection.name} ${status}: ${liveSocketCount()} sockets for ${connections.length} connections`);
    });
  }
  return {
    subscribed: (connection: Connection) => subscribed.get(connection)!,
    violations,
    get duplicateAcks() {
      return duplicateAcks;
    },
  };
}

const reconnects = (connection: Connection) => connection.metrics().reconnects;

describe('chaos: reliable messaging through a faulty network and a server restart', () => {
  it('every number published on every channel reaches every subscriber exactly once and in order, and every acked publish is stored once', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    // Redis keeps history, numbering and the idempotency keys, so a restarted server resumes where the old one stopped.
    const serverOptions = (port: number): ServerOptions => ({ ...baseServerOptions(port), redis: { url: redis.url }, historySize: 5_000 });
    let server: SocketchartServer | undefined = await startServer(serverOptions(0));
    const port = server.address()!.port;
    cleanups.push(async () => {
      await server?.close();
    });
    const proxy = new FaultProxy({ host: HOST, port }, { random: seededRandom(7) });
    await proxy.listen();
    cleanups.push(() => proxy.close());

    const ledger = new Ledger(CHANNELS);
    const proxied = ['c1', 'c2', 'c3'].map((name, i) => connect(name, proxy.port, 11 + i));
    const direct = connect('direct', port, 17);
    const connections = [...proxied, direct];
    const gaps: string[] = [];
    const errors: string[] = [];
    cleanups.push(() => connections.forEach((connection) => connection.dispose()));
    const watched = watch(connections);
    for (const connection of connections) {
      ledger.subscriber(connection.name);
      for (const ch of CHANNELS) connection.subscribe(ch, (data, message) => ledger.receive(connection.name, ch, data, message.seq));
      connection.on('gap', (gap) => gaps.push(`${connection.name} ${gap.ch} ${gap.from}..${gap.to}`));
      connection.on('error', (error) => errors.push(`${connection.name}: ${error.code}`));
      connection.start();
    }
    const allConnected = () => until(() => connections.every((connection) => connection.isConnected), 8_000, 'every connection back');
    await until(() => connections.every((connection) => watched.subscribed(connection) >= CHANNELS.length), 5_000, 'every subscription');

    const publishers: Publisher[] = [
      ...proxied.map((connection) => clientPublisher(connection, connection.name, ledger, 30)),
      clientPublisher(direct, direct.name, ledger, 30),
      serverPublisher(() => server, 'server', ledger, 30),
    ];
    cleanups.push(() => publishers.forEach((publisher) => publisher.close()));

    const faults = { reset: 0, 'blackhole<timeout': 0, 'blackhole>timeout': 0, 'stall-downstream': 0, delay: 0, restart: 0 };
    /** What happened when, by the number the client publishers were at: read with a failure's inversions. */
    const timeline: string[] = [];
    const mark = (what: string) => timeline.push(`${what}@${ledger.lastNumber(CHANNELS[0]!, 'c1')}`);
    const fault = (kind: keyof typeof faults) => {
      faults[kind]++;
      mark(kind);
    };
    const heartbeatDetected: boolean[] = [];
    const restartReconnected: boolean[] = [];

    await sleep(400);
    // 1. RST on every proxied socket.
    proxy.reset();
    fault('reset');
    await allConnected();
    mark('up');
    await sleep(300);
    // 2. A blackhole shorter than the heartbeat's pong deadline: traffic stalls, nothing is lost.
    proxy.mode = 'blackhole';
    fault('blackhole<timeout');
    await sleep(HEARTBEAT.timeoutMs - 150);
    proxy.mode = 'pass';
    mark('pass');
    await allConnected();
    await sleep(300);
    // 3. Latency with jitter in both directions, while everyone keeps publishing.
    proxy.delayMs = 80;
    proxy.jitterMs = 60;
    fault('delay');
    await sleep(1_000);
    proxy.delayMs = 0;
    proxy.jitterMs = 0;
    mark('no-delay');
    await allConnected();
    await sleep(200);
    // 4. A blackhole longer than interval + pong deadline: only the heartbeat can find the dead sockets.
    let before = proxied.map(reconnects);
    proxy.mode = 'blackhole';
    fault('blackhole>timeout');
    await sleep(1_500);
    proxy.mode = 'pass';
    mark('pass');
    await allConnected();
    mark('up');
    heartbeatDetected.push(...proxied.map((connection, i) => reconnects(connection) > before[i]!));
    await sleep(300);
    // 5. The server restarts on the same port with the same history (Redis): 1012 to everyone.
    before = connections.map(reconnects);
    const old = server;
    server = undefined;
    fault('restart');
    await old.close();
    server = await startServer(serverOptions(port));
    mark('listening');
    await allConnected();
    mark('up');
    restartReconnected.push(...connections.map((connection, i) => reconnects(connection) > before[i]!));
    await sleep(300);
    // 6. A reset while chunks are held by a delay: they die with their sockets.
    proxy.delayMs = 60;
    proxy.jitterMs = 40;
    fault('delay');
    await sleep(300);
    proxy.reset();
    fault('reset');
    await sleep(300);
    proxy.delayMs = 0;
    proxy.jitterMs = 0;
    mark('no-delay');
    await allConnected();
    mark('up');
    await sleep(300);
    // 7. Publishes reach the server but nothing comes back (acks and deliveries stall) until the heartbeat gives up.
    proxy.mode = 'stall-downstream';
    fault('stall-downstream');
    await sleep(1_200);
    proxy.mode = 'pass';
    mark('pass');
    await allConnected();
    mark('up');
    await sleep(200);
    // 8. One more reset right before the publishers stop.
    proxy.reset();
    fault('reset');
    await sleep(100);
    mark('stop');
    publishers.forEach((publisher) => publisher.stop());

    // Quiet: everything reconnected, every publish settled, every subscriber caught up.
    await allConnected();
    const settledAcks = await settle(() => publishers.every((publisher) => outstanding(publisher) === 0), 10_000);
    const caughtUp = await settle(() => ledger.caughtUp(), 10_000);
    await sleep(300); // late duplicates, if any, would land here
    const stored = await readStored(`ws://${HOST}:${port}`, 'auditor', CHANNELS);

    const figures = ledger.figures();
    const acks = publishers.reduce(
      (sum, { acks: a }) => ({ requested: sum.requested + a.requested, resolved: sum.resolved + a.resolved, rejected: sum.rejected + a.rejected.length, duplicates: sum.duplicates + a.duplicates }),
      { requested: 0, resolved: 0, rejected: 0, duplicates: 0 },
    );
    const storage = storageFigures(ledger, stored);
    console.log(
      `chaos: faults ${Object.entries(faults)
        .map(([kind, count]) => `${kind}=${count}`)
        .join(' ')}` +
        ` | sent=${figures.sent} delivered=${figures.delivered}/${figures.sent * connections.length} lost=${figures.lost} duplicated=${figures.duplicated} out-of-order=${figures.outOfOrder}` +
        ` | acks resolved=${acks.resolved}/${acks.requested} rejected=${acks.rejected} server-said-duplicate=${acks.duplicates + watched.duplicateAcks}` +
        ` | stored once=${storage.once}/${figures.sent} stored twice or more=${storage.repeated} missing=${storage.missing}` +
        ` | reconnects=${connections.map((connection) => `${connection.name}:${reconnects(connection)}`).join(',')} gaps=${gaps.length}` +
        ` | errors=${[...tally(errors.map((entry) => entry.slice(entry.indexOf(': ') + 2)))].map(([code, count]) => `${code}:${count}`).join(',') || 'none'}`,
    );

    expect(watched.violations, 'at most one socket per connection').toEqual([]);
    expect(heartbeatDetected, 'the long blackhole was detected by every proxied connection').toEqual(proxied.map(() => true));
    expect(restartReconnected, 'the restart reached every connection').toEqual(connections.map(() => true));
    expect(settledAcks, 'every publish settled').toBe(true);
    expect(
      publishers.flatMap((publisher) => publisher.acks.rejected),
      'no publish was rejected',
    ).toEqual([]);
    expect(acks.resolved).toBe(acks.requested);
    expect(caughtUp, 'every subscriber caught up').toBe(true);
    expect(
      { lost: figures.lost, duplicated: figures.duplicated, outOfOrder: figures.outOfOrder },
      `first inversions: ${ledger.inversions().join('; ') || 'none'}; timeline (fault@c1's number): ${timeline.join(' ')}`,
    ).toEqual({ lost: 0, duplicated: 0, outOfOrder: 0 });
    expect(figures.delivered).toBe(figures.sent * connections.length);
    expect(gaps, 'no gap while history covers every outage').toEqual([]);
    expect({ once: storage.once, repeated: storage.repeated, missing: storage.missing, unexpected: storage.unexpected, storedGaps: storage.gaps }).toEqual({
      once: figures.sent,
      repeated: 0,
      missing: 0,
      unexpected: 0,
      storedGaps: 0,
    });
    // Strongest form: each subscriber saw exactly the stored sequence of every channel, number for number.
    for (const ch of CHANNELS) {
      const expected = stored.get(ch)!.entries;
      for (const connection of connections) {
        expect(ledger.inbox(connection.name, ch), `${connection.name} on ${ch}`).toEqual(expected);
      }
    }
    expect(errors.filter((code) => !/CONNECTION_FAILED|NETWORK_ERROR|TIMEOUT|SERVER_ERROR/.test(code)), 'only link errors').toEqual([]);
  });

  it('an outage longer than the resume window ends in a typed gap: every number is delivered or inside a reported gap, and delivery goes on', async () => {
    // In-memory history of 5 messages per channel: an outage with 50 messages per channel outruns it.
    const server = await startServer({ ...baseServerOptions(0), historySize: 5 });
    const port = server.address()!.port;
    cleanups.push(() => server.close());
    const proxy = new FaultProxy({ host: HOST, port });
    await proxy.listen();
    cleanups.push(() => proxy.close());

    const channels = CHANNELS.slice(0, 2);
    const ledger = new Ledger(channels);
    const reader = connect('reader', proxy.port, 21);
    const witness = connect('witness', port, 22);
    const writer = connect('writer', port, 23);
    const connections = [reader, witness, writer];
    cleanups.push(() => connections.forEach((connection) => connection.dispose()));
    const watched = watch(connections);
    const gaps: Array<{ ch: string; from: number; to: number }> = [];
    reader.on('gap', (gap) => gaps.push(gap));
    witness.on('gap', (gap) => gaps.push({ ...gap, ch: `witness ${gap.ch}` }));
    for (const connection of [reader, witness]) {
      ledger.subscriber(connection.name);
      for (const ch of channels) connection.subscribe(ch, (data, message) => ledger.receive(connection.name, ch, data, message.seq));
    }
    connections.forEach((connection) => connection.start());
    await until(() => watched.subscribed(reader) >= channels.length && watched.subscribed(witness) >= channels.length && writer.isConnected, 5_000, 'subscriptions');

    const publish = async (from: number, to: number) => {
      for (let n = from; n <= to; n++) {
        for (const ch of channels) {
          ledger.publish(ch, 'server', n);
          await server.broadcast(ch, { src: 'server', n });
          ledger.publish(ch, 'writer', n);
          await writer.send({ src: 'writer', n }, { channel: ch, ack: true });
        }
      }
    };
    const heard = (name: string, ch: string, src: string, n: number) => ledger.inbox(name, ch).some((d) => d.src === src && d.n === n);

    await publish(1, 5);
    await until(() => channels.every((ch) => heard('reader', ch, 'writer', 5)), 5_000, 'the first numbers');
    proxy.mode = 'refuse';
    proxy.reset();
    await until(() => !reader.isConnected, 5_000, 'the reader cut off');
    await publish(6, 30);
    proxy.mode = 'pass';
    await until(() => reader.isConnected && channels.every((ch) => gaps.some((gap) => gap.ch === ch)), 8_000, 'a gap on every channel');
    await publish(31, 40);
    const done = await settle(() => channels.every((ch) => heard('reader', ch, 'writer', 40) && heard('witness', ch, 'writer', 40)), 8_000);

    let delivered = 0;
    let inGap = 0;
    let both = 0;
    let neither = 0;
    for (const ch of channels) {
      const got = new Set(ledger.inbox('reader', ch).map((d) => d.seq));
      const reported = gaps.filter((gap) => gap.ch === ch);
      for (const { seq } of ledger.inbox('witness', ch)) {
        const covered = reported.some((gap) => seq !== undefined && gap.from <= seq && seq <= gap.to);
        if (got.has(seq) && covered) both++;
        else if (got.has(seq)) delivered++;
        else if (covered) inGap++;
        else neither++;
      }
    }
    const readerFigures = ledger.figures();
    console.log(
      `chaos gap: sent=${readerFigures.sent} reader delivered=${delivered} inside reported gaps=${inGap} silently missing=${neither} delivered-and-gapped=${both}` +
        ` duplicated=${readerFigures.duplicated} out-of-order=${readerFigures.outOfOrder} gaps=${gaps.map((gap) => `${gap.ch}:${gap.to - gap.from + 1}`).join(',')}`,
    );

    expect(done, 'the numbers after the gap arrived').toBe(true);
    expect(watched.violations).toEqual([]);
    expect(gaps.filter((gap) => gap.ch.startsWith('witness')), 'the witness, never cut off, has no gap').toEqual([]);
    for (const gap of gaps) expect(gap.from).toBeLessThanOrEqual(gap.to);
    // The witness saw everything: it is the reference numbering.
    for (const ch of channels) expect(ledger.inbox('witness', ch)).toHaveLength(ledger.sentOn(ch));
    expect({ neither, both }).toEqual({ neither: 0, both: 0 });
    expect(inGap, 'the outage outran the history').toBeGreaterThan(0);
    expect(readerFigures.duplicated).toBe(0);
    expect(readerFigures.outOfOrder).toBe(0);
    for (const ch of channels) {
      const seqs = ledger.inbox('reader', ch).map((d) => d.seq ?? -1);
      expect(seqs, `${ch}: increasing`).toEqual([...seqs].sort((a, b) => a - b));
      // before the outage and after the gap, nothing is missing
      for (const src of ['server', 'writer']) {
        for (const n of [1, 2, 3, 4, 5, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40]) expect(heard('reader', ch, src, n), `${ch} ${src}#${n}`).toBe(true);
      }
    }
  });
});

describe('chaos: single faults at the worst moment', () => {
  it('an ack timeout that expires while the link re-authenticates does not overtake older unacknowledged publishes', async () => {
    let authDelayMs = 0;
    const server = await startServer({
      ...baseServerOptions(0),
      auth: {
        verify: async (token) => {
          await sleep(authDelayMs);
          return { userId: token };
        },
      },
    });
    const port = server.address()!.port;
    cleanups.push(() => server.close());
    const proxy = new FaultProxy({ host: HOST, port });
    await proxy.listen();
    cleanups.push(() => proxy.close());
    const writer = connect('writer', proxy.port, 31, { heartbeat: false, circuit: false, reconnect: { baseMs: 30, capMs: 100 }, acks: { timeoutMs: 500, maxAttempts: 10 } });
    const witness = connect('witness', port, 32);
    cleanups.push(() => [writer, witness].forEach((connection) => connection.dispose()));
    const watched = watch([writer, witness]);
    const got: number[] = [];
    witness.subscribe<{ n: number }>('feed:order', (data) => got.push(data.n));
    writer.start();
    witness.start();
    await until(() => writer.isConnected && watched.subscribed(witness) === 1, 5_000, 'both connected');
    await writer.send({ n: 1 }, { channel: 'feed:order', ack: true });

    // 2 and 3 are written into a link that has died (their acks are due 500 ms after each write) ...
    proxy.mode = 'blackhole';
    const writtenAt = Date.now();
    const second = writer.send({ n: 2 }, { channel: 'feed:order', ack: true });
    await sleep(400);
    const third = writer.send({ n: 3 }, { channel: 'feed:order', ack: true });
    await sleep(50);
    proxy.mode = 'refuse';
    proxy.reset();
    // ... 2's ack timeout passes while there is no socket at all; 3's passes while the next socket authenticates.
    await sleep(600 - (Date.now() - writtenAt));
    authDelayMs = 400;
    proxy.mode = 'pass';
    await Promise.all([second, third]);
    await until(() => got.length >= 3, 5_000, 'three deliveries');
    await sleep(100);
    expect(got, 'stored and delivered in the order sent').toEqual([1, 2, 3]);
  });

  it('a subscriber cut off before its first message misses nothing published meanwhile', async () => {
    const server = await startServer(baseServerOptions(0));
    const port = server.address()!.port;
    cleanups.push(() => server.close());
    const proxy = new FaultProxy({ host: HOST, port });
    await proxy.listen();
    cleanups.push(() => proxy.close());
    const reader = connect('reader', proxy.port, 41, { circuit: false, reconnect: { baseMs: 30, capMs: 100 } });
    cleanups.push(() => reader.dispose());
    const watched = watch([reader]);
    const got: number[] = [];
    const gaps: Array<{ from: number; to: number }> = [];
    reader.on('gap', (gap) => gaps.push(gap));
    reader.subscribe<{ n: number }>('feed:first', (data) => got.push(data.n));
    reader.start();
    await until(() => watched.subscribed(reader) === 1, 5_000, 'the subscription');
    proxy.mode = 'refuse';
    proxy.reset();
    await until(() => !reader.isConnected, 5_000, 'the reader cut off');
    const published = [await server.broadcast('feed:first', { n: 1 }), await server.broadcast('feed:first', { n: 2 })];
    proxy.mode = 'pass';
    await until(() => watched.subscribed(reader) === 2, 5_000, 'the subscription again');
    await server.broadcast('feed:first', { n: 3 });
    await until(() => got.includes(3), 5_000, 'the number published after the reconnect');
    const silentlyMissing = published.filter(({ seq }, i) => !got.includes(i + 1) && !gaps.some((gap) => gap.from <= seq && seq <= gap.to));
    expect(silentlyMissing, 'every number delivered or inside a reported gap').toEqual([]);
    expect(got, 'history covers the outage: all delivered').toEqual([1, 2, 3]);
  });
});

function tally(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

/** How many published numbers the server stored exactly once, more than once, or not at all; and what it stored that nobody published. */
function storageFigures(ledger: Ledger, stored: Map<string, StoredChannel>) {
  let once = 0;
  let repeated = 0;
  let missing = 0;
  let gaps = 0;
  let unexpected = 0;
  for (const ch of ledger.channels) {
    const channel = stored.get(ch)!;
    gaps += channel.gaps.length;
    const counts = new Map<string, number>();
    for (const { src, n } of channel.entries) counts.set(`${src}#${n}`, (counts.get(`${src}#${n}`) ?? 0) + 1);
    for (const { src, n } of channel.entries) if (n < 1 || n > ledger.lastNumber(ch, src)) unexpected++;
    for (const src of ledger.sources(ch)) {
      for (let n = 1; n <= ledger.lastNumber(ch, src); n++) {
        const count = counts.get(`${src}#${n}`) ?? 0;
        if (count === 1) once++;
        else if (count === 0) missing++;
        else repeated++;
      }
    }
  }
  return { once, repeated, missing, gaps, unexpected };
}
