import type * as PromClient from 'prom-client';
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { dependencies } from './dependencies.js';
import { CloseCode } from '../protocol/wire.js';

const prom = dependencies.core<typeof PromClient>('prom-client');

const knownCloseCodes = new Set<number>(Object.values(CloseCode));

/** The `code` label of a close: one of the known close codes, else `other` (a client chooses the code it closes with). */
export const closeCodeLabel = (code: number): string => (knownCloseCodes.has(code) ? String(code) : 'other');

/** The server's Prometheus instruments, all registered on one `Registry` (the app's, or one per server). */
export interface ServerMetrics {
  readonly registry: Registry;
  readonly connections: Gauge;
  readonly connectionsOpened: Counter;
  readonly connectionsClosed: Counter<'code'>;
  readonly messagesIn: Counter<'type'>;
  readonly messagesOut: Counter<'type'>;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly deliveryLatency: Histogram;
  readonly errors: Counter<'code'>;
  readonly rateLimited: Counter<'scope'>;
  readonly slowConsumers: Counter;
  readonly backendUp: Gauge;
  /** Counts one outbound frame of a type (plain counts on the hot path, added to the counters when they are scraped). */
  countOut(type: string, bytes: number): void;
  countIn(type: string, bytes: number): void;
  /** Takes every metric off the registry (the server closed or failed to start): a next server can register on it. */
  unregister(): void;
}

export interface MetricsOptions {
  prefix: string;
  registry?: Registry;
  defaultMetrics: boolean;
}

/** The name of a prom-client metric (its classes have one; their types leave it out). */
const nameOf = (metric: PromClient.Metric): string => (metric as unknown as { name: string }).name;

/** prom-client's default metrics, collected once per prefix: they measure the process, and each collection keeps a GC observer and an event-loop monitor running for good. */
const defaultMetricsByPrefix = new Map<string, PromClient.Metric[]>();

function defaultMetricsOf(prefix: string): PromClient.Metric[] {
  let metrics = defaultMetricsByPrefix.get(prefix);
  if (!metrics) {
    const register = new prom.Registry();
    prom.collectDefaultMetrics({ register, prefix });
    metrics = register.getMetricsAsArray().map(({ name }) => register.getSingleMetric(name)!);
    defaultMetricsByPrefix.set(prefix, metrics);
  }
  return metrics;
}

/** The server's instruments on `registry`, registered all or none (a name already there throws). */
export function createMetrics({ prefix, registry = new prom.Registry(), defaultMetrics }: MetricsOptions): ServerMetrics {
  const registers: Registry[] = [];
  const messagesIn = new prom.Counter({ name: `${prefix}messages_in_total`, help: 'Frames received, by frame type', labelNames: ['type'] as const, registers });
  const pendingOut = new Map<string, number>();
  let pendingBytesOut = 0;
  const messagesOut: Counter<'type'> = new prom.Counter({
    name: `${prefix}messages_out_total`,
    help: 'Frames sent, by frame type',
    labelNames: ['type'] as const,
    registers,
    collect() {
      for (const [type, n] of pendingOut) messagesOut.labels(type).inc(n);
      pendingOut.clear();
    },
  });
  const bytesIn = new prom.Counter({ name: `${prefix}bytes_in_total`, help: 'Bytes of frames received', registers });
  const bytesOut: Counter = new prom.Counter({
    name: `${prefix}bytes_out_total`,
    help: 'Bytes of frames sent',
    registers,
    collect() {
      bytesOut.inc(pendingBytesOut);
      pendingBytesOut = 0;
    },
  });
  const inChildren = new Map<string, Counter.Internal>();
  const child = (cache: Map<string, Counter.Internal>, counter: Counter<'type'>, type: string) => {
    let found = cache.get(type);
    if (!found) cache.set(type, (found = counter.labels(type)));
    return found;
  };
  const instruments = {
    connections: new prom.Gauge({ name: `${prefix}connections`, help: 'Open WebSocket connections on this node', registers }),
    connectionsOpened: new prom.Counter({ name: `${prefix}connections_opened_total`, help: 'WebSocket connections accepted', registers }),
    connectionsClosed: new prom.Counter({ name: `${prefix}connections_closed_total`, help: 'WebSocket connections closed, by close code', labelNames: ['code'] as const, registers }),
    messagesIn,
    messagesOut,
    bytesIn,
    bytesOut,
    deliveryLatency: new prom.Histogram({
      name: `${prefix}delivery_latency_seconds`,
      help: 'Time from publish to fan-out on this node',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    errors: new prom.Counter({ name: `${prefix}errors_total`, help: 'Error frames sent, by error code', labelNames: ['code'] as const, registers }),
    rateLimited: new prom.Counter({ name: `${prefix}rate_limited_total`, help: 'Frames refused by a rate limit, by scope', labelNames: ['scope'] as const, registers }),
    slowConsumers: new prom.Counter({ name: `${prefix}slow_consumers_total`, help: 'Connections closed because their send buffer overflowed', registers }),
    backendUp: new prom.Gauge({ name: `${prefix}backend_up`, help: '1 when the shared backend (Redis) is reachable', registers }),
  };
  const registered: string[] = [];
  const unregister = () => {
    for (const name of registered.splice(0)) registry.removeSingleMetric(name);
  };
  try {
    for (const metric of [...(defaultMetrics ? defaultMetricsOf(prefix) : []), ...Object.values(instruments)] as PromClient.Metric[]) {
      registry.registerMetric(metric);
      registered.push(nameOf(metric));
    }
  } catch (error) {
    unregister();
    throw error;
  }
  return {
    registry,
    ...instruments,
    countOut(type, bytes) {
      pendingOut.set(type, (pendingOut.get(type) ?? 0) + 1);
      pendingBytesOut += bytes;
    },
    countIn(type, bytes) {
      child(inChildren, messagesIn, type).inc();
      bytesIn.inc(bytes);
    },
    unregister,
  };
}
