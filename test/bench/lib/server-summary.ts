/** Rows of run.ts's Summary table for the server bench (server.ts): [figure, value, target, verdict]. */
import type { ServerResult } from '../server.js';
import { kb, rate, verdict } from './stats.js';
import { arrivedOf, latencyMs, p99WithRange } from './server-runs.js';

export const SERVER_TARGETS = { deliveriesPerSec: 200_000, p99Ms: 10, heapPerConnBytes: 8 * 1024 } as const;

export function serverSummaryRows(server: ServerResult): string[][] {
  const { fanout, latency, memory } = server;
  const lat = (f: ServerResult['latency']['fanout']) => `p50 ${latencyMs(f.p50)}, ${p99WithRange(f)}; ${arrivedOf(f)}`;
  const complete = (f: ServerResult['latency']['fanout']) => f.arrived === f.expected;
  return [
    [
      `server fan-out deliveries/s (${fanout.subscribers.toLocaleString('en-US')} subscribers, loopback)`,
      `${rate(fanout.deliveriesPerSec)}  (a plain ws loop corked alike ${rate(fanout.rawDeliveriesPerSec)}; socketchart corked per burst ${rate(fanout.corkedDeliveriesPerSec)})`,
      `≥ ${rate(SERVER_TARGETS.deliveriesPerSec)}`,
      verdict(fanout.deliveriesPerSec >= SERVER_TARGETS.deliveriesPerSec),
    ],
    [
      'server delivery latency, 10k deliveries/s: 100 pub/s → 100 subs',
      lat(latency.fanout),
      `p99 < ${SERVER_TARGETS.p99Ms} ms`,
      verdict(latency.fanout.p99 < SERVER_TARGETS.p99Ms && complete(latency.fanout)),
    ],
    [
      '  same, 10k publishes/s → 1 subscriber',
      lat(latency.publish),
      `p99 < ${SERVER_TARGETS.p99Ms} ms`,
      verdict(latency.publish.p99 < SERVER_TARGETS.p99Ms && complete(latency.publish)),
    ],
    [
      `server heap per connection at ${memory.connections.toLocaleString('en-US')} (socket included)`,
      `${kb(memory.heapPerConn)}${memory.wsPerConn === null ? '' : `  (ws socket ${kb(memory.wsPerConn)})`}`,
      `≤ ${kb(SERVER_TARGETS.heapPerConnBytes, 0)}`,
      verdict(memory.heapPerConn <= SERVER_TARGETS.heapPerConnBytes),
    ],
    ['  same, after one sendToUser() per user (per-channel history)', kb(memory.afterSendToUserPerConn), '', ''],
  ];
}
