import { createInspector } from '@statelyai/inspect';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { ErrorCode, createConnection, createPool, type AuthOptions, type Logger } from '../../../src/index.js';
import { InspectionEncoder } from '../../../src/inspection/encoder.js';
import type { InspectionRecord } from '../../../src/inspection/protocol.js';
import { SimulatedClock, createManualEnvironment, createMockServer } from '../../../src/testing/index.js';
import { harness, settle } from '../../support/harness.js';

/**
 * The `inspect` option takes what `createActor` takes: an observer object (as `@statelyai/inspect`'s
 * `inspector.inspect` is) or a function. Whatever inspection sees — snapshots, events, actor inputs
 * and outputs, errors — never carries a token, in any auth mode, through connects, in-band refreshes
 * and refusals; nor do logs and metrics.
 */

/** `@statelyai/inspect` hands events to its adapter when the host is idle. */
const idle = () => new Promise<void>((resolve) => setTimeout(resolve, 30));

/** Every string inside a value (cycles and actor refs walked once). */
function stringsIn(value: unknown, seen = new WeakSet<object>()): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null || seen.has(value)) return [];
  seen.add(value);
  if (value instanceof Error) return [value.message, ...stringsIn({ ...value }, seen)];
  return Object.entries(value).flatMap(([key, item]) => [key, ...stringsIn(item, seen)]);
}

describe('inspection', () => {
  it('takes an inspection observer object as well as a function', async () => {
    const server = createMockServer();
    const observed: string[] = [];
    const called: string[] = [];
    const connection = createConnection({ url: 'ws://mock.test/o', WebSocket: server.WebSocket, inspect: { next: (event) => observed.push(event.type) } });
    const viaFunction = createConnection({ url: 'ws://mock.test/f', WebSocket: server.WebSocket, inspect: (event) => called.push(event.type) });
    connection.start();
    viaFunction.start();
    await settle();
    expect(connection.status).toBe('connected');
    expect(observed).toContain('@xstate.snapshot');
    expect(called).toContain('@xstate.snapshot');
    connection.dispose();
    viaFunction.dispose();
  });

  it("@statelyai/inspect's inspector.inspect, passed as it is, sees the connection and its children", async () => {
    const server = createMockServer();
    const sent: Array<{ type: string; sessionId?: string; event?: { type: string } }> = [];
    const inspector = createInspector({ send: (event) => void sent.push(event as never) });
    const connection = createConnection({ url: 'ws://mock.test/i', WebSocket: server.WebSocket, inspect: inspector.inspect });
    connection.start();
    await settle();
    expect(connection.status).toBe('connected');
    await idle();
    const actors = sent.filter((event) => event.type === '@xstate.actor').map((event) => event.sessionId);
    expect(actors).toContain(connection.actor.sessionId);
    expect(sent.some((event) => event.type === '@xstate.event' && event.event?.type === 'socket.open')).toBe(true);
    connection.dispose();
  });

  it('a pool takes an observer object, and its connections report through it', async () => {
    const server = createMockServer();
    const seen = new Set<string>();
    const pool = createPool({
      endpoints: [{ name: 'a', url: 'ws://mock.test/a' }],
      defaults: { WebSocket: server.WebSocket },
      staggerMs: 0,
      environment: false,
      inspect: { next: (event: InspectionEvent) => void seen.add((event.actorRef as { id?: string }).id ?? '') },
    });
    pool.start();
    await settle();
    expect(seen).toContain('a');
    pool.dispose();
  });

  it('an inspected pool or connection is announced at its first use, not at creation: one made and dropped unused is never seen', () => {
    const { WebSocket } = createMockServer();
    const announced: string[] = [];
    const inspect = (event: InspectionEvent) => {
      if (event.type === '@xstate.actor') announced.push((event.actorRef as { logic?: { id?: string } }).logic?.id ?? '');
    };
    const pool = createPool({ endpoints: [{ name: 'a', url: 'ws://mock.test/a' }], defaults: { WebSocket }, environment: false, inspect });
    const connection = createConnection({ url: 'ws://mock.test/x', WebSocket, environment: false, inspect });
    expect(pool.status().connections).toEqual({ a: 'idle' });
    expect(announced, 'status() is no use: it reads the options').toEqual([]);
    expect(pool.connection('a')?.status).toBe('idle');
    expect(announced).toEqual(['pool', 'connection']);
    expect(connection.status).toBe('idle');
    connection.start();
    expect(announced.filter((id) => id === 'connection')).toHaveLength(2);
    connection.dispose();
    pool.dispose();
  });

  it('an inspected connection disposed before its first use leaves no actor running, read afterwards or not', () => {
    const { WebSocket } = createMockServer();
    const announced: InspectionEvent['actorRef'][] = [];
    const inspect = (event: InspectionEvent) => {
      if (event.type === '@xstate.actor') announced.push(event.actorRef);
    };
    const connection = createConnection({ url: 'ws://mock.test/x', WebSocket, environment: false, inspect });
    connection.dispose();
    expect(connection.snapshot.status).toBe('stopped');
    expect(announced.map((actor) => actor.getSnapshot().status)).toEqual(['stopped']);
  });

  it('an inspect option that is neither an observer nor a function is refused at creation', () => {
    const { WebSocket } = createMockServer();
    expect(() => createConnection({ url: 'ws://mock.test/x', WebSocket, inspect: 42 as never })).toThrow(/inspect/);
    expect(() => createConnection({ url: 'ws://mock.test/x', WebSocket, inspect: {} as never })).toThrow(/inspect/);
  });
});

describe('no secret reaches inspection, logs or metrics', () => {
  it('console.log of a connection in Node (util.inspect) never shows its token, connected or refreshed in band', async () => {
    const tokens = ['tok-CONNECT-3e7a', 'tok-REFRESH-b19c'];
    let next = 0;
    const h = harness({ auth: { token: () => tokens[next++]!, refreshLeadMs: 30_000 }, heartbeat: false }, { sessionTtlMs: 60_000 });
    await h.connect();
    expect(h.connection.status).toBe('connected');
    expect(inspect(h.connection)).not.toContain('tok-CONNECT');
    await h.elapse(35_000);
    expect(next, 'the token was refreshed in band').toBe(2);
    expect(h.server.last!.sentOfType('auth').map((frame) => frame.token)).toEqual(tokens);
    expect(inspect(h.connection)).not.toMatch(/tok-(CONNECT|REFRESH)/);
  });

  const modes: ReadonlyArray<AuthOptions['mode']> = ['message', 'subprotocol', 'query'];

  for (const mode of modes) {
    it(`auth mode ${mode}: tokens given at connect, refreshed in band and refused never appear`, async () => {
      const clock = new SimulatedClock(1_700_000_000_000);
      const tokens = ['tok-CONNECT-7f3a', 'tok-REFRESH-91bc', 'tok-REFUSED-5d2e', 'tok-RETRY-c4e8'];
      let next = 0;
      const server = createMockServer({
        now: () => clock.now(),
        sessionTtlMs: 60_000,
        autoAuth: (token) => token !== 'tok-REFUSED-5d2e',
      });
      const raw: InspectionEvent[] = [];
      const stately: unknown[] = [];
      const inspector = createInspector({ send: (event) => void stately.push(JSON.parse(JSON.stringify(event))) });
      const logs: unknown[] = [];
      const logger: Logger = Object.fromEntries(['debug', 'info', 'warn', 'error'].map((level) => [level, (message: string, details?: unknown) => logs.push(level, message, details)]));
      const errors: unknown[] = [];
      const connection = createConnection({
        url: 'ws://mock.test/secret',
        WebSocket: server.WebSocket,
        clock,
        environment: createManualEnvironment(),
        auth: { token: () => tokens[Math.min(next++, tokens.length - 1)]!, mode, refreshLeadMs: 30_000 },
        logger,
        inspect: {
          next: (event) => {
            raw.push(event);
            inspector.inspect.next?.(event);
          },
        },
      });
      connection.on('error', (error) => errors.push(error));
      /** The server's side of the handshake: in message mode it answers the auth frame itself; otherwise it reads the token from the subprotocol or the url. */
      const answer = async () => {
        await settle();
        const socket = server.last!;
        if (mode !== 'message') {
          if (`${socket.url} ${socket.protocols.join(' ')}`.includes('tok-REFUSED-5d2e')) socket.closeFromServer(4001, 'unauthorized');
          else socket.push({ type: 'auth_ok', userId: 'user-1', sessionId: 's1', expiresAt: clock.now() + 60_000 });
        }
        await settle();
      };
      connection.start();
      await answer();
      expect(connection.status).toBe('connected');
      clock.advance(30_000);
      await settle();
      expect(server.last!.sentOfType('auth').map((frame) => frame.token), 'the refresh went in band').toContain('tok-REFRESH-91bc');
      server.last!.closeFromServer(4001, 'unauthorized');
      await answer();
      expect(connection.status, 'the fresh token was refused too').toBe('failed');
      connection.retry();
      await answer();
      expect(connection.status).toBe('connected');
      await idle();
      expect(next, 'every token was asked for').toBeGreaterThanOrEqual(3);
      const everything = [...stringsIn(raw), ...stringsIn(stately), ...stringsIn(logs), ...stringsIn(errors), ...stringsIn(connection.metrics()), ...stringsIn(connection.snapshot)];
      for (const token of tokens) {
        expect(everything.filter((text) => text.includes(token)), `${token} seen by inspection, logs, errors or metrics`).toEqual([]);
      }
      connection.dispose();
    });
  }

  it('a token provider that fails an in-band refresh with an error quoting the token: the error never reaches inspection', async () => {
    const token = 'tok-CURRENT-8e1f2a';
    const records: InspectionRecord[] = [];
    const encoder = new InspectionEncoder({ now: () => 0 });
    let calls = 0;
    const h = harness(
      {
        auth: { token: () => (++calls === 1 ? token : Promise.reject(new Error(`refresh of ${token} refused by https://idp.test/token`))), refreshLeadMs: 30_000 },
        heartbeat: false,
        inspect: (event) => encoder.next(event),
      },
      { sessionTtlMs: 60_000 },
    );
    await h.connect();
    records.push(...encoder.drain());
    await h.advance(30_000);
    records.push(...encoder.drain());
    expect(calls, 'the refresh was asked for').toBe(2);
    expect(h.errors.map((error) => error.code)).toEqual([ErrorCode.AUTHENTICATION_FAILED]);
    expect(JSON.stringify(records).includes(token), 'the token in what the inspector is sent').toBe(false);
    h.connection.dispose();
  });
});

const SECRET = 'secret-token-value-123';

describe('close reasons reach inspection unredacted', () => {
  for (const mode of ['message', 'query'] as const) {
    it(`auth mode ${mode}: a close reason echoing the token is not seen by inspection`, async () => {
      const clock = new SimulatedClock(1_700_000_000_000);
      const server = createMockServer({ now: () => clock.now() });
      const events: InspectionEvent[] = [];
      const errors: unknown[] = [];
      const connection = createConnection({
        url: 'ws://mock.test/socket',
        WebSocket: server.WebSocket,
        clock,
        environment: createManualEnvironment(),
        auth: { token: SECRET, mode },
        inspect: { next: (event) => events.push(event) },
      });
      connection.on('error', (error) => errors.push(error));
      connection.start();
      await settle();
      if (mode === 'query') server.last!.push({ type: 'auth_ok', userId: 'u', sessionId: 's' });
      await settle();
      expect(connection.status).toBe('connected');
      server.last!.closeFromServer(1011, `boom ${SECRET}`);
      await settle();
      expect(JSON.stringify(errors), 'errors are redacted').not.toContain(SECRET);
      const leaked = events.filter((event) => JSON.stringify((event as { event?: unknown }).event ?? null).includes(SECRET));
      expect(leaked.map((event) => JSON.stringify((event as { event?: unknown }).event))).toEqual([]);
      connection.dispose();
    });
  }
});
