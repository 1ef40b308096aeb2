import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type SocketchartError } from '../../../src/index.js';
import { harness, type Harness } from '../../support/harness.js';
import { expectInvariants, expectNothingLeft } from '../../support/invariants.js';

type Step =
  | { kind: 'user'; action: 'start' | 'stop' | 'retry' }
  | { kind: 'env'; event: 'online' | 'offline' | 'hidden' | 'visible' | 'freeze' | 'resume' }
  | { kind: 'server'; action: 'drop' | 'close'; code: number }
  | { kind: 'refuse'; on: boolean }
  | { kind: 'time'; ms: number }
  | { kind: 'send'; priority: 'critical' | 'high' | 'normal' | 'low' }
  | { kind: 'backpressure'; bytes: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('user' as const), action: fc.constantFrom('start' as const, 'stop' as const, 'retry' as const) }),
  fc.record({ kind: fc.constant('env' as const), event: fc.constantFrom('online' as const, 'offline' as const, 'hidden' as const, 'visible' as const, 'freeze' as const, 'resume' as const) }),
  fc.record({ kind: fc.constant('server' as const), action: fc.constantFrom('drop' as const, 'close' as const), code: fc.constantFrom(1000, 1001, 1006, 1008, 1011, 1012, 1013, 4001, 4003, 4029) }),
  fc.record({ kind: fc.constant('refuse' as const), on: fc.boolean() }),
  fc.record({ kind: fc.constant('time' as const), ms: fc.constantFrom(0, 1, 100, 1_000, 5_000, 30_000, 120_000) }),
  fc.record({ kind: fc.constant('send' as const), priority: fc.constantFrom('critical' as const, 'high' as const, 'normal' as const, 'low' as const) }),
  fc.record({ kind: fc.constant('backpressure' as const), bytes: fc.constantFrom(0, 2_000_000) }),
);

async function apply(h: Harness, s: Step, settled: Array<Promise<unknown>>) {
  switch (s.kind) {
    case 'user':
      h.connection[s.action]();
      break;
    case 'env':
      h.env.emit(s.event);
      break;
    case 'server': {
      const socket = h.server.last;
      if (socket?.isLive) s.action === 'drop' ? socket.drop() : socket.closeFromServer(s.code);
      break;
    }
    case 'refuse':
      h.server.refusing = s.on;
      break;
    case 'time':
      h.clock.advance(s.ms);
      break;
    case 'send':
      settled.push(h.connection.send(JSON.stringify({ n: settled.length }), { priority: s.priority, ttl: 60_000 }).catch((error: SocketchartError) => error.code));
      break;
    case 'backpressure':
      if (h.server.last) h.server.last.bufferedAmount = s.bytes;
      break;
  }
  await h.settle();
}

describe('no leaks (invariant 4)', () => {
  for (const reach of ['idle', 'connecting', 'authenticating', 'connected', 'reconnecting', 'offline', 'failed'] as const) {
    it(`stop() from ${reach} leaves zero sockets, timers, child actors and listeners`, async () => {
      const h = harness({ auth: { token: 'tkn' } }, { autoOpen: reach !== 'connecting', autoAuth: reach !== 'authenticating' });
      if (reach !== 'idle') h.connection.start();
      await h.settle();
      if (reach === 'reconnecting') h.server.last!.drop();
      if (reach === 'offline') h.env.emit('offline');
      if (reach === 'failed') h.server.last!.closeFromServer(4003);
      await h.settle();
      expect(h.connection.status).toBe(reach);
      h.connection.stop();
      await h.settle();
      await h.advance(5_000);
      expectNothingLeft(h);
    });
  }

  it('dispose() stops the actor for good with nothing left behind', async () => {
    const h = harness();
    await h.connect();
    h.server.last!.drop();
    await h.settle();
    const pending = h.connection.send('x', { ttl: 10_000 });
    h.connection.dispose();
    await expect(pending).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(h.connection.actor.getSnapshot().status).toBe('stopped');
    expect(h.clock.pending).toBe(0);
    expect(h.server.live).toHaveLength(0);
    expect(h.env.listenerCount).toBe(0);
  });

  it('any sequence of events keeps invariants 1, 3 and 4 at every step, and stop() then leaves nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        const h = harness({ auth: { token: async () => 'tkn' }, closeWhenHidden: true, circuit: { failureThreshold: 3, recoveryMs: 5_000 } });
        const settled: Array<Promise<unknown>> = [];
        for (const s of steps) {
          await apply(h, s, settled);
          expectInvariants(h);
        }
        h.connection.stop();
        await h.settle();
        h.clock.advance(5_000);
        await h.settle();
        expectNothingLeft(h);
        const outcomes = await Promise.all(settled);
        for (const outcome of outcomes) expect([undefined, ErrorCode.CLOSED, ErrorCode.MESSAGE_EXPIRED, ErrorCode.QUEUE_OVERFLOW]).toContain(outcome);
      }),
      { numRuns: 150 },
    );
  });
});

describe('a connection at rest lets go of its actor, whatever is called on it', () => {
  it('stop() again on a closed connection runs no new actor: the one let go at rest stays let go', async () => {
    const h = harness();
    await h.connect();
    h.connection.stop();
    await h.advance(5_000);
    expect(h.connection.status).toBe('closed');
    const rested = h.connection.actor;
    expect(rested.getSnapshot().status).toBe('stopped');
    h.connection.stop();
    await h.advance(5_000);
    expect(h.connection.status).toBe('closed');
    expect(h.connection.actor).toBe(rested);
    expect(h.connection.actor.getSnapshot().status).toBe('stopped');
  });

  it('retry() on a closed connection (nothing to retry) runs no new actor either; start() still dials', async () => {
    const h = harness();
    await h.connect();
    h.connection.stop();
    await h.advance(5_000);
    h.connection.retry();
    await h.advance(5_000);
    expect(h.connection.status).toBe('closed');
    expect(h.connection.actor.getSnapshot().status).toBe('stopped');
    h.connection.start();
    await h.settle();
    expect(h.connection.status).toBe('connected');
  });

  it('a start() from a listener of the closed state runs the connection on with one environment listener; stopped again, nothing is left', async () => {
    const h = harness();
    await h.connect();
    const remove = h.connection.on('state', ({ status }) => {
      if (status === 'closed') h.connection.start();
    });
    h.connection.stop();
    await h.advance(5_000);
    expect(h.connection.status).toBe('connected');
    expect(h.env.listenerCount, 'environment listeners').toBe(1);
    remove();
    h.connection.stop();
    await h.settle();
    expectNothingLeft(h);
    expect(h.connection.actor.getSnapshot().status).toBe('stopped');
  });

  it('a stop() or retry() from a listener of the closed state changes nothing: the actor is still let go and nothing listens', async () => {
    const h = harness();
    await h.connect();
    h.connection.on('state', ({ status }) => {
      if (status !== 'closed') return;
      h.connection.stop();
      h.connection.retry();
    });
    h.connection.stop();
    await h.advance(5_000);
    expectNothingLeft(h);
    expect(h.connection.actor.getSnapshot().status).toBe('stopped');
  });

  it('start() on a failed connection (only retry() leaves failed) watches nothing and runs no new actor; retry() still dials', async () => {
    const h = harness();
    await h.connect();
    h.server.last!.closeFromServer(4003, 'forbidden');
    await h.settle();
    expect(h.connection.status).toBe('failed');
    expect(h.connection.actor.getSnapshot().status).toBe('stopped');
    h.connection.start();
    await h.advance(60_000);
    expect(h.connection.status).toBe('failed');
    expect(h.dials).toHaveLength(1);
    expect(h.env.listenerCount, 'environment listeners').toBe(0);
    expect(h.connection.actor.getSnapshot().status).toBe('stopped');
    h.connection.retry();
    await h.settle();
    expect(h.connection.status).toBe('connected');
  });
});
