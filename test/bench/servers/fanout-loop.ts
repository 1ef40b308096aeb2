/**
 * The fan-out driver every bench server shares (servers/socketchart-server.ts, plain-server.ts,
 * socketio-server.ts): `broadcastBurst(n)` sends n messages to every subscriber, `burst` per event-loop
 * turn; after each burst, waits for every TCP socket holding more than `highWater` unsent bytes to drain;
 * at the end waits for every socket to drain. Times are "hr epoch" ms (performance.timeOrigin +
 * performance.now()), comparable across processes on one host.
 */
import type { Socket } from 'node:net';
import { setImmediate as immediate } from 'node:timers/promises';

export const hrEpoch = () => performance.timeOrigin + performance.now();

export function drained(socket: Socket): Promise<void> {
  if (socket.writableLength === 0 || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

export interface FanoutSpec {
  messages: number;
  burst: number;
  highWater: number;
}

/** Runs the loop; `failed` is whatever the caller counted as failed broadcasts (read once the loop is done). */
export async function fanoutLoop(sockets: () => Iterable<Socket>, { messages, burst, highWater }: FanoutSpec, broadcastBurst: (n: number) => void, failed: () => number = () => 0) {
  let drainWaits = 0;
  let maxBuffered = 0;
  const startedAt = hrEpoch();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let sent = 0; sent < messages; ) {
    const n = Math.min(burst, messages - sent);
    broadcastBurst(n);
    sent += n;
    const full: Socket[] = [];
    for (const socket of sockets()) {
      const buffered = socket.writableLength;
      if (buffered > maxBuffered) maxBuffered = buffered;
      if (buffered > highWater) full.push(socket);
    }
    if (full.length > 0) {
      drainWaits++;
      await Promise.all(full.map(drained));
    } else {
      await immediate();
    }
  }
  const publishMs = performance.now() - t0;
  await Promise.all([...sockets()].map(drained));
  const drainedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { type: 'fanned', startedAt, publishMs, drainedMs, cpuUs: cpu.user + cpu.system, sysUs: cpu.system, drainWaits, maxBuffered, failed: failed() };
}
