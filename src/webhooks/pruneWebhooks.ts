import type { CleanupMetrics } from '../cleanup/cleanupMetrics.ts';
import type { Logger } from '../log.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { pruneWebhookDeliveries } from '../storage/webhookRetention.ts';

/** Rows per prune statement, and statements per run at most. */
const BATCH = 1000;
const MAX_BATCHES = 100;

/**
 * Removes finished webhook deliveries (succeeded or dead) older than `retentionDays`, and the
 * events left without a delivery, in short batches (each its own statement); called by the
 * cleanup runner each tick. A failure is logged and left to the next tick. Returns what went.
 */
export async function pruneWebhooks(options: {
  pool: DatabasePool;
  log: Logger;
  metrics: Pick<CleanupMetrics, 'deletedRows'>;
  retentionDays: number;
}): Promise<{ deliveries: number; events: number }> {
  const { pool, log, metrics, retentionDays } = options;
  const total = { deliveries: 0, events: 0 };
  try {
    for (let i = 0; i < MAX_BATCHES; i++) {
      const batch = await pruneWebhookDeliveries(pool, retentionDays, BATCH);
      total.deliveries += batch.deliveries;
      total.events += batch.events;
      if (batch.deliveries < BATCH && batch.events < BATCH) break;
    }
  } catch (err) {
    log.warn({ err }, 'webhook retention: pruning failed; retrying next cleanup tick');
  }
  if (total.deliveries > 0)
    metrics.deletedRows.inc({ table: 'webhook_deliveries' }, total.deliveries);
  if (total.events > 0) metrics.deletedRows.inc({ table: 'webhook_events' }, total.events);
  if (total.deliveries + total.events > 0) {
    log.info(
      { webhookRetention: { ...total, retentionDays } },
      `webhook retention removed ${total.deliveries} deliveries and ${total.events} events`,
    );
  }
  return total;
}
