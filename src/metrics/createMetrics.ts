import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  rpcTotal: Counter<'method' | 'code'>;
  rpcDuration: Histogram<'method'>;
  rateLimited: Counter<'limit'>;
  /** 1 for the mode rate limits are enforced in right now (redis, in-process, degraded). */
  rateLimitMode: Gauge<'mode'>;
  /** Registers a callback run before each scrape (gauges read from live state). */
  onCollect(fn: () => void): void;
}

/** The Prometheus registry served at /metrics; labels stay low-cardinality (method, code). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_process_' });
  const collectors: (() => void)[] = [];
  const rateLimitMode = new Gauge({
    name: 'gatehouse_rate_limit_mode',
    help: 'Where rate limits are enforced: redis, in-process (no Redis configured) or degraded (Redis down)',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      this.reset();
      for (const fn of collectors) fn();
    },
  });
  return {
    registry,
    rateLimitMode,
    onCollect: (fn) => collectors.push(fn),
    rateLimited: new Counter({
      name: 'gatehouse_rate_limited_total',
      help: 'Calls refused with RESOURCE_EXHAUSTED, by the limit that refused them',
      labelNames: ['limit'],
      registers: [registry],
    }),
    rpcTotal: new Counter({
      name: 'gatehouse_rpc_total',
      help: 'Finished RPCs by method and gRPC status code',
      labelNames: ['method', 'code'],
      registers: [registry],
    }),
    rpcDuration: new Histogram({
      name: 'gatehouse_rpc_duration_seconds',
      help: 'RPC handling time by method',
      labelNames: ['method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}
