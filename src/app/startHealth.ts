import { ENVOY_AUTHORIZATION_SERVICE } from '../grpc/envoyAuthorization.ts';
import {
  createHealthMonitor,
  type DependencyProbe,
  type HealthMonitor,
} from '../health/createHealthMonitor.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics/createMetrics.ts';
import { API_SERVICES } from '../policy/loadMethodPolicies.ts';
import type { RateLimitBudgets } from '../ratelimit/createRateLimitBudgets.ts';
import { pingRedis } from '../redis/pingRedis.ts';
import { sql } from '../storage/sql.ts';
import type { Closers } from './createClosers.ts';
import type { Stores } from './startStores.ts';

/**
 * Probes PostgreSQL and Redis for grpc.health.v1 and /readyz, and binds the live gauges (rate
 * limit mode, pool, dependencies) to the metrics.
 */
export async function startHealth(
  stores: Stores,
  limits: Pick<RateLimitBudgets, 'status'>,
  metrics: Metrics,
  log: Logger,
  closers: Closers,
): Promise<HealthMonitor> {
  const { pool, redis } = stores;
  const probes: DependencyProbe[] = [
    { name: 'postgres', check: () => pool.query(sql.typeAlias('void')`SELECT 1`).then(() => {}) },
  ];
  if (redis) {
    probes.push({ name: 'redis', check: () => pingRedis(redis) });
  } else {
    // Without REDIS_URL the in-process stores stand in for Redis; they are always there, so
    // gatehouse.redis answers SERVING instead of NOT_FOUND.
    probes.push({ name: 'redis', check: () => Promise.resolve() });
  }
  const monitor = createHealthMonitor([...API_SERVICES, ENVOY_AUTHORIZATION_SERVICE], probes, log);
  await monitor.start();
  metrics.bindLiveState({
    rateLimitMode: () => limits.status(),
    pool: () => {
      const state = pool.state();
      return {
        acquired: state.acquiredConnections,
        idle: state.idleConnections,
        waiting: state.waitingClients,
      };
    },
    dependencies: () => monitor.snapshot(),
  });
  closers.push(() => monitor.stop());
  return monitor;
}
