import { z } from 'zod';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// Webhook retention: gatehouse_prune_webhook_deliveries (migrations/0018_webhook_retention.sql).

const pruned = z.object({ deliveries: z.coerce.number(), events: z.coerce.number() });

/**
 * One batch of the prune: at most `limit` finished (succeeded or dead) deliveries older than
 * `keepDays`, then at most `limit` events older than that with no delivery left.
 */
export async function pruneWebhookDeliveries(
  db: Db,
  keepDays: number,
  limit: number,
): Promise<{ deliveries: number; events: number }> {
  return db.one(sql.type(pruned)`
    SELECT deliveries, events
    FROM gatehouse_prune_webhook_deliveries(make_interval(days => ${keepDays}), ${limit})`);
}
