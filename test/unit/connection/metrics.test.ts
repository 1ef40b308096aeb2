import { createActor } from 'xstate';
import { expect, it } from 'vitest';
import { connectionLogic, connectionOf, type ConnectionOptions } from '../../../src/index.js';
import { utf8Length } from '../../../src/protocol/frame-bytes.js';
import { SimulatedClock, createManualEnvironment, createMockServer } from '../../../src/testing/index.js';
import { graphql, socketOf } from '../../support/graphql-mock.js';
import { harness, settle } from '../../support/harness.js';

/**
 * What `metrics()` reports, as its type documents it: time in each state since creation, data messages and
 * their bytes in and out (control frames are not data; a message written again counts its bytes, not as a
 * new message), durations never below zero, every error reported counted, and no wait after the actor stops.
 */

it('counts the time a connection spends idle before start() in timeInState.idle', async () => {
  const h = harness({ heartbeat: false });
  const createdAt = h.clock.now();
  await h.advance(5_000);
  expect(h.connection.status).toBe('idle');
  expect(h.connection.metrics().timeInState.idle, 'ongoing stay in idle, 5 s after creation').toBe(5_000);

  await h.connect();
  await h.advance(1_000);
  const { timeInState } = h.connection.metrics();
  expect(timeInState.idle, 'idle from creation until start()').toBe(5_000);
  const total = Object.values(timeInState).reduce((a, b) => a + b, 0);
  expect(total, 'time in every state adds up to the time since creation').toBe(h.clock.now() - createdAt);
});

it('does not count heartbeat pongs as data messages received', async () => {
  const h = harness({ heartbeat: { intervalMs: 10_000, timeoutMs: 2_000 } });
  await h.connect();
  for (let probe = 0; probe < 3; probe++) await h.advance(10_000);
  const m = h.connection.metrics();
  expect(m.rtt.count, 'three pings answered').toBe(3);
  expect(m.messagesOut, 'pings are not counted out').toBe(0);
  expect(m.messagesIn, 'no data message arrived: pongs are control frames').toBe(0);
  expect(m.bytesIn, 'no data message arrived: no data bytes in').toBe(0);
});

it('counts exactly the data messages received when control frames arrive alongside', async () => {
  const h = harness({ heartbeat: false });
  await h.connect();
  const socket = h.server.last!;
  socket.push({ type: 'message', ch: 'news', seq: 1, data: 'a' });
  socket.push({ type: 'pong', ts: 1 });
  socket.push({ type: 'subscribed', ch: 'news', seq: 1 });
  socket.push({ type: 'message', ch: 'news', seq: 2, data: 'b' });
  await h.settle();
  expect(h.connection.metrics().messagesIn, 'two data messages, two control frames').toBe(2);
});

it('counts the same bytesOut for the same non-ASCII message written at once or flushed from the queue', async () => {
  const text = 'é'.repeat(100); // 100 UTF-16 units, 200 UTF-8 bytes

  const direct = harness({ heartbeat: false });
  await direct.connect();
  await direct.connection.send(text);

  const queued = harness({ heartbeat: false });
  const sent = queued.connection.send(text); // before start(): queued
  expect(queued.connection.queued).toBe(1);
  await queued.connect();
  await sent;

  expect(direct.server.last!.sent.map((f) => f.raw)).toEqual([text]);
  expect(queued.server.last!.sent.map((f) => f.raw)).toEqual([text]);
  expect(queued.connection.metrics().bytesOut, 'queued then flushed vs written at once').toBe(direct.connection.metrics().bytesOut);
});

it('counts the bytes of an acknowledged message written again after acks.timeoutMs', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 1_000, maxAttempts: 3 } });
  h.server.onFrame = () => undefined; // no acks
  await h.connect();
  void h.connection.send('hello', { channel: 'c', ack: true }).catch(() => undefined);
  await h.settle();
  await h.advance(1_000);
  const socket = h.server.last!;
  const publishes = socket.sent.filter((frame) => frame.json?.type === 'publish');
  expect(publishes, 'written twice').toHaveLength(2);
  const written = publishes.reduce((sum, frame) => sum + utf8Length(frame.raw as string), 0);
  expect(h.connection.metrics().bytesOut, 'bytes of both writes of the data frame').toBe(written);
});

it('counts the bytes of an acknowledged message written again after a reconnect', async () => {
  const h = harness({ heartbeat: false, acks: { timeoutMs: 60_000, maxAttempts: 3 }, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
  h.server.onFrame = () => undefined; // no acks
  await h.connect();
  void h.connection.send('hello', { channel: 'c', ack: true }).catch(() => undefined);
  await h.settle();
  h.server.last!.drop();
  await h.advance(100);
  expect(h.connection.status).toBe('connected');
  const publishes = h.server.sockets.flatMap((socket) => socket.sent.filter((frame) => frame.json?.type === 'publish'));
  expect(publishes, 'written on each socket').toHaveLength(2);
  const written = publishes.reduce((sum, frame) => sum + utf8Length(frame.raw as string), 0);
  expect(h.connection.metrics().bytesOut, 'bytes of both writes of the data frame').toBe(written);
});

it('counts an operation written by execute() in messagesOut and bytesOut on graphql-transport-ws', async () => {
  const { h, gql } = graphql({ heartbeat: false });
  await h.connect();
  expect(h.connection.status).toBe('connected');
  const result = h.connection.execute({ query: '{ a }' });
  await h.settle();
  expect(gql.subscribes).toHaveLength(1);
  const id = gql.subscribes[0]!.id as string;
  socketOf(h).push({ type: 'next', id, payload: { data: { a: 1 } } });
  socketOf(h).push({ type: 'complete', id });
  await expect(result).resolves.toEqual({ data: { a: 1 } });
  const m = h.connection.metrics();
  expect(m.messagesIn, 'the result arrived').toBeGreaterThanOrEqual(1);
  expect(m.messagesOut, 'the query was written').toBe(1);
  expect(m.bytesOut, 'the query was written').toBeGreaterThan(0);
});

it('never reports a negative heartbeat round-trip time when the wall clock steps back', async () => {
  const h = harness({ heartbeat: { intervalMs: 10_000, timeoutMs: 2_000 } }, { autoPong: false });
  await h.connect();
  await h.advance(10_000);
  const socket = h.server.last!;
  const ts = socket.sentOfType('ping')[0]!.ts as number;
  h.clock.jump(-5_000); // the wall clock is corrected back while the ping is in flight
  socket.push({ type: 'pong', ts });
  await h.settle();
  const { rtt } = h.connection.metrics();
  for (const [name, value] of Object.entries({ p50: rtt.p50, p95: rtt.p95, p99: rtt.p99, last: rtt.last })) {
    if (value !== null) expect(value, `rtt.${name}`).toBeGreaterThanOrEqual(0);
  }
  if (h.connection.rttMs !== null) expect(h.connection.rttMs, 'connection.rttMs').toBeGreaterThanOrEqual(0);
});

it('never reports a negative time to recover when the wall clock steps back during the outage: that recovery is left out', async () => {
  const h = harness({ heartbeat: false, reconnect: { baseMs: 1_000, capMs: 1_000, jitter: 0 } }, { autoOpen: false });
  h.connection.start();
  await h.settle();
  h.server.last!.accept();
  await h.settle();
  expect(h.connection.status).toBe('connected');
  h.server.last!.drop();
  await h.settle();
  expect(h.connection.status).toBe('reconnecting');
  await h.advance(1_000); // the redial: the socket waits for the server's handshake
  expect(h.connection.status).toBe('connecting');
  h.clock.jump(-10_000); // the wall clock is corrected back while the socket opens
  h.server.last!.accept();
  await h.settle();
  expect(h.connection.status).toBe('connected');
  const { timeToRecover } = h.connection.metrics();
  expect(h.connection.metrics().reconnects).toBe(1);
  expect(timeToRecover.count, 'a recovery timed across the step is left out').toBe(0);
  expect(timeToRecover.last).toBeNull();
});

it('counts in metrics().errors every error the connection reports on on(\'error\'), including a refused presence rejoin', async () => {
  const h = harness({ heartbeat: false, reconnect: { baseMs: 100, capMs: 100, jitter: 0 } });
  await h.connect();
  const joined = h.connection.presence.join('chat:a');
  h.server.last!.push({ type: 'presence_state', ch: 'chat:a', members: [{ userId: 'me' }] });
  await joined;
  h.server.last!.drop();
  await h.advance(100);
  expect(h.connection.status).toBe('connected');
  h.server.last!.push({ type: 'error', code: 'AUTHORIZATION_FAILED', message: 'no join', details: { ch: 'chat:a', action: 'join' } });
  await h.settle();
  expect(h.errors.map((error) => error.code)).toEqual(['NETWORK_ERROR', 'AUTHORIZATION_FAILED']);
  expect(h.connection.metrics().errors, 'one count per error reported').toBe(h.errors.length);
});

it('stops counting throttledMs once the connection actor is stopped while throttled', async () => {
  const clock = new SimulatedClock(1_700_000_000_000);
  const server = createMockServer({ now: () => clock.now() });
  const options: ConnectionOptions = {
    url: 'ws://mock.test/app',
    WebSocket: server.WebSocket,
    clock,
    environment: createManualEnvironment(),
    random: () => 0.5,
    heartbeat: false,
    rateLimit: { connection: { perMinute: 60, burst: 1 } },
  };
  const actor = createActor(connectionLogic(options), { clock }).start();
  const connection = connectionOf(actor);
  actor.send({ type: 'connection.start' });
  await settle();
  for (let i = 0; i < 5; i++) void connection.send({ i }, { channel: 'c' }).catch(() => undefined);
  await settle();
  clock.advance(500);
  await settle();
  expect(connection.throttled).toBe(true);
  expect(connection.metrics().throttledMs).toBe(500);

  actor.stop();
  await settle();
  expect(connection.status).toBe('closed');
  expect(connection.metrics().queueDepth).toBe(0);
  clock.advance(60_000);
  expect(connection.metrics().throttledMs, 'no wait goes on after the actor stopped').toBe(500);
});

it('judges a large queue against queue.maxMessages: 2 of 10 waiting is no issue, 9 of 10 is large_queue at 0.9', async () => {
  const h = harness({ heartbeat: false, queue: { maxMessages: 10 } });
  const sends = () => void h.connection.send('x').catch(() => undefined);
  for (let i = 0; i < 2; i++) sends();
  expect(h.connection.metrics().issues.map(({ issue }) => issue)).not.toContain('large_queue');
  for (let i = 0; i < 7; i++) sends();
  expect(h.connection.metrics().issues).toContainEqual(expect.objectContaining({ issue: 'large_queue', value: 0.9 }));
  h.connection.dispose();
});

it('times no recovery across a stop() the app asked for: an hour closed and start() again is no hour-long outage', async () => {
  const h = harness({ heartbeat: false, reconnect: { baseMs: 1_000, capMs: 1_000, jitter: 0 } });
  await h.connect();
  await h.advance(10_000);
  h.server.last!.drop();
  await h.settle();
  await h.advance(1_000);
  expect(h.connection.status).toBe('connected');
  expect(h.connection.metrics().timeToRecover).toMatchObject({ last: 1_000, count: 1 });

  h.connection.stop();
  await h.settle();
  expect(h.connection.status).toBe('closed');
  await h.advance(3_600_000);
  await h.connect();
  expect(h.connection.status).toBe('connected');
  const { timeToRecover } = h.connection.metrics();
  expect(timeToRecover, 'only the drop was recovered from').toMatchObject({ p99: 1_000, last: 1_000, count: 1 });
});

it('times no recovery across a page hidden with closeWhenHidden: an hour hidden and shown again is no hour-long outage', async () => {
  const h = harness({ heartbeat: false, closeWhenHidden: true, reconnect: { baseMs: 1_000, capMs: 1_000, jitter: 0 } });
  await h.connect();
  await h.advance(10_000);
  h.server.last!.drop();
  await h.advance(1_000);
  expect(h.connection.metrics().timeToRecover).toMatchObject({ last: 1_000, count: 1 });

  h.env.emit('hidden');
  await h.settle();
  expect(h.connection.status).toBe('suspended');
  await h.advance(3_600_000);
  h.env.emit('visible');
  await h.settle();
  expect(h.connection.status).toBe('connected');
  const { timeToRecover } = h.connection.metrics();
  expect(timeToRecover, 'only the drop was recovered from').toMatchObject({ p99: 1_000, last: 1_000, count: 1 });
});

it('a page hidden and shown again with closeWhenHidden counts each reopen as a reconnect, and lowers the health score no more than a page that stayed', async () => {
  const stayed = harness({ heartbeat: false, closeWhenHidden: true });
  const switched = harness({ heartbeat: false, closeWhenHidden: true });
  await Promise.all([stayed.connect(), switched.connect()]);
  for (let i = 0; i < 5; i++) {
    switched.env.emit('hidden');
    await switched.advance(2_000);
    switched.env.emit('visible');
    await switched.settle();
    await stayed.advance(2_000);
  }
  expect(switched.connection.status).toBe('connected');
  expect(switched.connection.metrics().reconnects).toBe(5);
  expect(switched.connection.metrics().healthScore).toBe(stayed.connection.metrics().healthScore);
  expect(switched.connection.metrics().issues).toEqual(stayed.connection.metrics().issues);
});
