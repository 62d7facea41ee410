import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface Metrics {
  registry: Registry;
  rpcTotal: Counter<'method' | 'code'>;
  rpcDuration: Histogram<'method'>;
}

/** The Prometheus registry served at /metrics; labels stay low-cardinality (method, code). */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_process_' });
  return {
    registry,
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
