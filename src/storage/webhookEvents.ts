import type { FragmentSqlToken, ValueExpression } from 'slonik';
import { z } from 'zod';
import type { WebhookEventType } from '../domain/Webhook.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// Webhook events (table webhook_events) and their queueing: one delivery per endpoint.

/** What an event's `data` holds: ids and plain facts, never secrets. */
export type WebhookEventData = Record<string, string | number | boolean | null>;

/**
 * The audit details that may reach a receiver: ids and reasons. Anything else an audit row
 * carries (names, slugs, emails of imports) stays in the audit log.
 */
const DATA_KEYS: ReadonlyMap<string, string> = new Map([
  ['session_id', 'session_id'],
  ['key_id', 'api_key_id'],
  ['service_account_id', 'service_account_id'],
  ['organization_id', 'organization_id'],
  ['membership_id', 'membership_id'],
  ['invitation_id', 'invitation_id'],
  ['passkey_id', 'passkey_id'],
  ['role_ids', 'role_ids'],
  ['roles', 'roles'],
  ['previous_roles', 'previous_roles'],
  ['fields', 'fields'],
  ['reason', 'reason'],
  ['method', 'method'],
  ['second_factor', 'second_factor'],
  ['locked_until', 'locked_until'],
  ['revoked_count', 'revoked_count'],
  ['revoked_sessions', 'revoked_sessions'],
  ['source', 'source'],
]);

/** The `data` of the event an audit row is: who acted on whom, and the details' ids. */
export function webhookEventDataOf(row: {
  actorUserId?: string | null;
  actorServiceAccountId?: string | null;
  subjectUserId?: string | null;
  details?: Record<string, string | number | boolean | null>;
}): WebhookEventData {
  const data: WebhookEventData = {
    user_id: row.subjectUserId ?? null,
    actor_user_id: row.actorUserId ?? null,
    actor_service_account_id: row.actorServiceAccountId ?? null,
  };
  for (const [key, value] of Object.entries(row.details ?? {})) {
    const name = DATA_KEYS.get(key);
    if (name !== undefined && value !== null) data[name] = value;
  }
  return data;
}

/** `{type, timestamp, data}`: the payload as receivers get it, timestamp the commit's now(). */
const payloadOf = (type: string, data: WebhookEventData) => payloadWith(type, sql.jsonb(data));

const payloadWith = (type: string, data: ValueExpression) => sql.fragment`
  jsonb_build_object(
    'type', ${type}::text,
    'timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'data', ${data})`;

const idRow = z.object({ id: z.string() });

/**
 * Queues one event of `type` per entry of `data` for every enabled endpoint subscribed to
 * `type`, in ONE statement (nothing is written when no endpoint wants it). `alongside`, a
 * data-modifying statement (an audit row's INSERT), runs in that same statement, so the two
 * are atomic even on a pool connection. Returns how many deliveries were queued.
 */
export async function queueWebhookEvents(
  db: Db,
  type: WebhookEventType,
  data: readonly WebhookEventData[],
  alongside: FragmentSqlToken | null = null,
): Promise<number> {
  if (data.length === 0 && alongside === null) return 0;
  const rows = await db.any(sql.type(idRow)`
    WITH ${alongside === null ? sql.fragment`` : sql.fragment`alongside AS (${alongside}),`}
    targets AS (
      SELECT id FROM webhook_endpoints
      WHERE enabled AND event_types @> ARRAY[${type}::text]
    ), items AS (
      SELECT value AS data FROM jsonb_array_elements(${sql.jsonb([...data])})
      WHERE EXISTS (SELECT 1 FROM targets)
    ), events AS (
      INSERT INTO webhook_events (type, payload)
      SELECT ${type}, ${payloadWith(type, sql.fragment`items.data`)} FROM items
      RETURNING id
    )
    INSERT INTO webhook_deliveries (event_id, endpoint_id)
    SELECT events.id, targets.id FROM events CROSS JOIN targets
    RETURNING id`);
  return rows.length;
}

/** Queues an event for one endpoint only (SendTestWebhookEvent); returns the delivery id. */
export async function queueWebhookEventFor(
  db: Db,
  endpointId: string,
  type: WebhookEventType,
  data: WebhookEventData,
): Promise<string> {
  return db.oneFirst(sql.type(idRow)`
    WITH event AS (
      INSERT INTO webhook_events (type, payload)
      VALUES (${type}, ${payloadOf(type, data)})
      RETURNING id
    )
    INSERT INTO webhook_deliveries (event_id, endpoint_id)
    SELECT event.id, ${endpointId} FROM event
    RETURNING id`);
}
