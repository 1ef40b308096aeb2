import type { AnyActorRef } from 'xstate';
import { connectionOf } from '../connection/connection.js';
import { findRuntime } from '../connection/implementations.js';
import type { ConnectionMetricsSnapshot } from '../metrics/connection-metrics.js';
import { poolDefaults } from '../connection/defaults.js';
import { poolRuntimeOf } from '../pool/implementations.js';
import { poolOf } from '../pool/pool.js';
import type { ConnectionSample, PoolSample } from './protocol.js';

/** What an actor is to the metrics sampler: a connection, a pool, or neither. */
export type SampledKind = 'connection' | 'pool';

/** `connection` or `pool` when `ref` runs one of socketchart's (its runtime is bound), else `undefined`. */
export function sampledKindOf(ref: AnyActorRef): SampledKind | undefined {
  if (poolRuntimeOf(ref)) return 'pool';
  if (findRuntime(ref)) return 'connection';
  return undefined;
}

/** The figures the inspector plots, out of a connection's metrics. */
export function connectionSampleOf(metrics: ConnectionMetricsSnapshot): ConnectionSample {
  return {
    status: metrics.state ?? 'idle',
    rtt: { p50: metrics.rtt.p50, p95: metrics.rtt.p95, p99: metrics.rtt.p99 },
    queueDepth: metrics.queueDepth,
    messagesIn: metrics.messagesIn,
    messagesOut: metrics.messagesOut,
    bytesIn: metrics.bytesIn,
    bytesOut: metrics.bytesOut,
    connects: metrics.connects,
    reconnects: metrics.reconnects,
    errors: metrics.errors,
    drops: metrics.drops,
    healthScore: metrics.healthScore,
  };
}

/** A connection actor's figures now. */
export function sampleConnection(ref: AnyActorRef): ConnectionSample {
  return connectionSampleOf(connectionOf(ref).metrics());
}

/** A pool actor's figures now, and each of its connections' by name (sampled once for both). */
export function samplePool(ref: AnyActorRef): { pool: PoolSample; connections: Record<string, ConnectionSample> } {
  const metrics = poolOf(ref).metrics();
  const budget = poolRuntimeOf(ref)?.options.dialBudget;
  const connections: Record<string, ConnectionSample> = {};
  let connected = 0;
  for (const [name, m] of Object.entries(metrics.connections)) {
    connections[name] = connectionSampleOf(m);
    if (m.state === 'connected') connected++;
  }
  return {
    pool: {
      health: metrics.health,
      healthScore: metrics.healthScore,
      connections: Object.keys(metrics.connections).length,
      connected,
      dials: { granted: metrics.dials.granted, waiting: metrics.dials.waiting },
      budget: budget ? { ratePerSec: budget.ratePerSec ?? poolDefaults.dialBudget.ratePerSec, burst: budget.burst ?? poolDefaults.dialBudget.burst } : null,
    },
    connections,
  };
}
