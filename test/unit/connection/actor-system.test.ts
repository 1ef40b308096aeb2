import { describe, expect, it } from 'vitest';
import { createConnection } from '../../../src/index.js';
import { SimulatedClock, createMockServer } from '../../../src/testing/index.js';
import { settle } from '../../support/harness.js';

describe('connections sharing one actor system', () => {
  it('connections on one clock share one XState system', () => {
    const clock = new SimulatedClock();
    const { WebSocket } = createMockServer();
    const a = createConnection({ url: 'ws://a.test', WebSocket, clock });
    const b = createConnection({ url: 'ws://b.test', WebSocket, clock });
    expect(a.actor.system).toBe(b.actor.system);
  });

  it('disposing one cancels its own timers only: the others keep their heartbeat', async () => {
    const clock = new SimulatedClock();
    const server = createMockServer();
    const options = { WebSocket: server.WebSocket, clock, heartbeat: { intervalMs: 1_000, timeoutMs: 500 } };
    const a = createConnection({ url: 'ws://a.test', ...options }).start();
    const b = createConnection({ url: 'ws://b.test', ...options }).start();
    await settle();
    const pendingBoth = clock.pending;
    a.dispose();
    expect(clock.pending).toBeLessThan(pendingBoth);
    expect(clock.pending).toBeGreaterThan(0);
    for (let i = 0; i < 50; i++) {
      clock.advance(1_000);
      await settle();
    }
    const socketB = server.sockets.find((socket) => socket.url === 'ws://b.test')!;
    expect(socketB.sentOfType('ping')).toHaveLength(50);
    expect(b.status).toBe('connected');
    expect(b.metrics().rtt.count).toBe(50);
    b.dispose();
    expect(clock.pending).toBe(0);
  });
});
