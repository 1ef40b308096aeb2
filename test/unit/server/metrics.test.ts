import { Counter, Registry } from 'prom-client';
import { expect, it } from 'vitest';
import { createMetrics } from '../../../src/server/metrics.js';

const names = (registry: Registry) => registry.getMetricsAsArray().map((metric) => metric.name);

it('takes every metric it registered off the registry, default metrics included, and leaves the app’s own', () => {
  const registry = new Registry();
  const own = new Counter({ name: 'app_requests_total', help: 'the app’s own', registers: [registry] });
  const metrics = createMetrics({ prefix: 'sc_', registry, defaultMetrics: true });
  expect(names(registry)).toContain('sc_connections');
  expect(names(registry)).toContain('sc_process_cpu_seconds_total');
  metrics.unregister();
  expect(names(registry)).toEqual(['app_requests_total']);
  expect(registry.getSingleMetric('app_requests_total')).toBe(own);
  metrics.unregister();
  expect(names(registry)).toEqual(['app_requests_total']);
});

it('registers again on a registry it was taken off', () => {
  const registry = new Registry();
  createMetrics({ prefix: 'sc_', registry, defaultMetrics: true }).unregister();
  const again = createMetrics({ prefix: 'sc_', registry, defaultMetrics: true });
  expect(registry.getSingleMetric('sc_connections')).toBe(again.connections);
  again.unregister();
});

it('registers all or nothing: a name already on the registry throws and leaves the registry as it was', () => {
  const registry = new Registry();
  new Counter({ name: 'sc_errors_total', help: 'taken', registers: [registry] });
  expect(() => createMetrics({ prefix: 'sc_', registry, defaultMetrics: true })).toThrow(/sc_errors_total/);
  expect(names(registry)).toEqual(['sc_errors_total']);
});

it('collects the default metrics once per prefix: servers of a process share them (one GC observer and event-loop monitor, not one per server)', () => {
  const [a, b] = [new Registry(), new Registry()];
  const first = createMetrics({ prefix: 'shared_', registry: a, defaultMetrics: true });
  const second = createMetrics({ prefix: 'shared_', registry: b, defaultMetrics: true });
  expect(a.getSingleMetric('shared_nodejs_gc_duration_seconds')).toBeDefined();
  expect(b.getSingleMetric('shared_nodejs_gc_duration_seconds')).toBe(a.getSingleMetric('shared_nodejs_gc_duration_seconds'));
  expect(b.getSingleMetric('shared_connections')).not.toBe(a.getSingleMetric('shared_connections'));
  first.unregister();
  second.unregister();
});
