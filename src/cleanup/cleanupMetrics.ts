import { Counter, Gauge, type Registry } from 'prom-client';

export interface CleanupMetrics {
  /** This instance's attempts: success | failed (recorded with an error) | skipped | error. */
  runs: Counter<'outcome'>;
  /** Rows removed by this instance's runs, per table. */
  deletedRows: Counter<'table'>;
  /** The latest recorded run (by any path: pg_cron, in-process, manual). */
  lastRunTimestamp: Gauge;
  lastDuration: Gauge;
  lastRunSuccess: Gauge;
}

/** The cleanup job's Prometheus metrics (labels: outcome, table; both low-cardinality). */
export function createCleanupMetrics(registry: Registry): CleanupMetrics {
  return {
    runs: new Counter({
      name: 'gatehouse_cleanup_runs_total',
      help: 'Cleanup attempts by this instance by outcome (success, failed, skipped, error)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    deletedRows: new Counter({
      name: 'gatehouse_cleanup_deleted_rows_total',
      help: 'Rows removed by cleanup runs of this instance, by table',
      labelNames: ['table'],
      registers: [registry],
    }),
    lastRunTimestamp: new Gauge({
      name: 'gatehouse_cleanup_last_run_timestamp_seconds',
      help: 'When the latest recorded cleanup run finished (any instance or pg_cron), Unix seconds',
      registers: [registry],
    }),
    lastDuration: new Gauge({
      name: 'gatehouse_cleanup_last_duration_seconds',
      help: 'Duration of the latest recorded cleanup run',
      registers: [registry],
    }),
    lastRunSuccess: new Gauge({
      name: 'gatehouse_cleanup_last_run_success',
      help: '1 if the latest recorded cleanup run succeeded, 0 if it failed',
      registers: [registry],
    }),
  };
}
