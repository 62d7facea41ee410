import { z } from 'zod';
import {
  type WebhookDelivery,
  type WebhookDeliveryStatus,
  webhookEventId,
} from '../domain/Webhook.ts';
import { AppError } from '../errors/AppError.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// Webhook deliveries (table webhook_deliveries): the admin reads and replays, and the claim /
// record cycle of the delivery worker (src/webhooks/createWebhookDispatcher.ts).

const STATUS = z.enum(['pending', 'succeeded', 'failed', 'dead']);

const deliveryRow = z.object({
  id: z.string(),
  endpoint_id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  status: STATUS,
  attempts: z.number(),
  next_attempt_at: z.date(),
  last_status_code: z.number().nullable(),
  last_error: z.string().nullable(),
  created_at: z.date(),
  updated_at: z.date(),
  delivered_at: z.date().nullable(),
});

const COLUMNS = sql.fragment`
  d.id, d.endpoint_id, d.event_id, e.type AS event_type, d.status, d.attempts,
  d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at,
  d.delivered_at`;

function toDelivery(r: z.infer<typeof deliveryRow>): WebhookDelivery {
  const open = r.status === 'pending' || r.status === 'failed';
  return {
    id: r.id,
    endpointId: r.endpoint_id,
    eventId: webhookEventId(r.event_id),
    eventType: r.event_type,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: open ? r.next_attempt_at : null,
    lastStatusCode: r.last_status_code,
    lastError: r.last_error,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deliveredAt: r.delivered_at,
  };
}

export function webhookDeliveryNotFound(): AppError {
  return new AppError('WEBHOOK_DELIVERY_NOT_FOUND', 'the endpoint has no delivery with that id');
}

/** One delivery of one endpoint; WEBHOOK_DELIVERY_NOT_FOUND otherwise. */
export async function getWebhookDelivery(
  db: Db,
  endpointId: string,
  deliveryId: string,
): Promise<WebhookDelivery> {
  const row = await db.maybeOne(sql.type(deliveryRow)`
    SELECT ${COLUMNS}
    FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
    WHERE d.id = ${deliveryId} AND d.endpoint_id = ${endpointId}`);
  if (row === null) throw webhookDeliveryNotFound();
  return toDelivery(row);
}

export interface WebhookDeliveryCursor {
  createdAt: string;
  id: string;
}

const deliveryCursorCreatedAtRow = deliveryRow.extend({ cursor_created_at: z.string() });

/** One page of an endpoint's deliveries, newest first (created_at, id DESC), before `before`. */
export async function findWebhookDeliveriesPage(
  db: Db,
  endpointId: string,
  status: WebhookDeliveryStatus | null,
  before: WebhookDeliveryCursor | null,
  limit: number,
): Promise<{ delivery: WebhookDelivery; cursor: WebhookDeliveryCursor }[]> {
  const conditions = [sql.fragment`d.endpoint_id = ${endpointId}`];
  if (status !== null) conditions.push(sql.fragment`d.status = ${status}`);
  if (before !== null) {
    conditions.push(sql.fragment`(d.created_at, d.id) <
      ((${before.createdAt}::timestamp AT TIME ZONE 'UTC'), ${before.id}::uuid)`);
  }
  const rows = await db.any(sql.type(deliveryCursorCreatedAtRow)`
    SELECT ${COLUMNS},
           to_char(d.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_created_at
    FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY d.created_at DESC, d.id DESC
    LIMIT ${limit}`);
  return rows.map((r) => ({
    delivery: toDelivery(r),
    cursor: { createdAt: r.cursor_created_at, id: r.id },
  }));
}

const idRow = z.object({ id: z.string() });

/**
 * Queues a delivery again, due now with a fresh retry period (queued_at) and a fresh count of
 * attempts; a lease in progress is left to finish. WEBHOOK_DELIVERY_NOT_FOUND without one.
 */
export async function replayWebhookDelivery(
  db: Db,
  endpointId: string,
  deliveryId: string,
): Promise<WebhookDelivery> {
  const row = await db.maybeOne(sql.type(idRow)`
    UPDATE webhook_deliveries
    SET status = 'pending', attempts = 0, next_attempt_at = now(), queued_at = now(),
        updated_at = now()
    WHERE id = ${deliveryId} AND endpoint_id = ${endpointId}
    RETURNING id`);
  if (row === null) throw webhookDeliveryNotFound();
  return getWebhookDelivery(db, endpointId, deliveryId);
}

/** A claimed delivery with what sending it takes: the payload, url and sealed secrets. */
const claimedRow = z.object({
  id: z.string(),
  endpoint_id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  payload: z.string(),
  attempts: z.number(),
  url: z.string(),
  secret_ciphertext: z.instanceof(Buffer),
  previous_secret_ciphertext: z.instanceof(Buffer).nullable(),
  /** Whether the retry period (from queued_at) has passed: this attempt is the last. */
  period_over: z.boolean(),
});
export type ClaimedWebhookDelivery = z.infer<typeof claimedRow>;

/**
 * Claims up to `limit` due deliveries for `owner`: a lease of `leaseMs` (other senders leave
 * them alone; FOR UPDATE SKIP LOCKED lets several instances claim side by side) and one more
 * attempt counted. One statement, so the claim commits at once. A row whose lease expired (its
 * sender died) is due again. Deliveries of a disabled endpoint still go out.
 */
export async function claimWebhookDeliveries(
  db: Db,
  claim: { limit: number; leaseMs: number; owner: string; retryPeriodSec: number },
): Promise<readonly ClaimedWebhookDelivery[]> {
  return db.any(sql.type(claimedRow)`
    WITH claimed AS (
      UPDATE webhook_deliveries
      SET attempts = attempts + 1,
          locked_until = now() + make_interval(secs => ${claim.leaseMs / 1000}),
          locked_by = ${claim.owner},
          last_attempt_at = now(),
          updated_at = now()
      WHERE id IN (
        SELECT id FROM webhook_deliveries
        WHERE status IN ('pending', 'failed') AND next_attempt_at <= now()
          AND (locked_until IS NULL OR locked_until <= now())
        ORDER BY next_attempt_at, id
        LIMIT ${claim.limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING id, endpoint_id, event_id, attempts, queued_at
    )
    SELECT c.id, c.endpoint_id, c.event_id, e.type AS event_type, e.payload::text AS payload,
           c.attempts, w.url, w.secret_ciphertext,
           CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret_ciphertext END
             AS previous_secret_ciphertext,
           c.queued_at + make_interval(secs => ${claim.retryPeriodSec}) <= now() AS period_over
    FROM claimed c
    JOIN webhook_events e ON e.id = c.event_id
    JOIN webhook_endpoints w ON w.id = c.endpoint_id`);
}

/** The outcome of one attempt, recorded against its lease. */
export interface WebhookAttemptOutcome {
  id: string;
  owner: string;
  attempt: number;
  /** The HTTP status received, or null (no answer). */
  statusCode: number | null;
  /** succeeded; or failed, due again in retryInMs; or dead (given up). */
  status: 'succeeded' | 'failed' | 'dead';
  error: string | null;
  retryInMs: number;
}

const statusRow = z.object({ status: STATUS });

/**
 * Records an attempt's outcome. Only the claim that made the attempt may (same owner and
 * attempt count); null means the lease had been lost (to another sender, or a replay).
 */
export async function recordWebhookAttempt(
  db: Db,
  o: WebhookAttemptOutcome,
): Promise<WebhookDeliveryStatus | null> {
  const row = await db.maybeOne(sql.type(statusRow)`
    UPDATE webhook_deliveries
    SET status = ${o.status},
        next_attempt_at = now() + make_interval(secs => ${o.retryInMs / 1000}),
        locked_until = NULL,
        last_status_code = ${o.statusCode},
        last_error = ${o.error === null ? null : o.error.slice(0, 1000)},
        delivered_at = CASE WHEN ${o.status} = 'succeeded' THEN now() ELSE delivered_at END,
        updated_at = now()
    WHERE id = ${o.id} AND locked_by = ${o.owner} AND attempts = ${o.attempt}
      AND status IN ('pending', 'failed')
    RETURNING status`);
  return row?.status ?? null;
}

const countRow = z.object({ count: z.number() });

/** How many deliveries wait to be sent (pending or failed; metrics). */
export async function countQueuedWebhookDeliveries(db: Db): Promise<number> {
  return db.oneFirst(sql.type(countRow)`
    SELECT count(*)::int AS count FROM webhook_deliveries WHERE status IN ('pending', 'failed')`);
}
