import { z } from 'zod';
import type { WebhookEndpoint } from '../domain/Webhook.ts';
import { AppError } from '../errors/AppError.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// Webhook endpoints (table webhook_endpoints). Secrets are stored sealed; only the delivery
// worker reads them (webhookDeliveries.ts), never the admin reads here.

const endpointRow = z.object({
  id: z.string(),
  url: z.string(),
  event_types: z.array(z.string()),
  enabled: z.boolean(),
  description: z.string(),
  created_at: z.date(),
  updated_at: z.date(),
  previous_secret_expires_at: z.date().nullable(),
});

// A previous secret whose overlap has ended is reported as none (and never used).
const COLUMNS = sql.fragment`
  id, url, event_types, enabled, description, created_at, updated_at,
  CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END
    AS previous_secret_expires_at`;

function toEndpoint(r: z.infer<typeof endpointRow>): WebhookEndpoint {
  return {
    id: r.id,
    url: r.url,
    eventTypes: r.event_types,
    enabled: r.enabled,
    description: r.description,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    previousSecretExpiresAt: r.previous_secret_expires_at,
  };
}

export function webhookEndpointNotFound(): AppError {
  return new AppError('WEBHOOK_ENDPOINT_NOT_FOUND', 'no webhook endpoint with that id');
}

/** A sealed signing secret and the fingerprint of the key that sealed it. */
export interface SealedSecret {
  ciphertext: Buffer;
  keyId: string;
}

export interface NewWebhookEndpoint {
  id: string;
  url: string;
  eventTypes: string[];
  enabled: boolean;
  description: string;
  secret: SealedSecret;
}

export async function insertWebhookEndpoint(
  db: Db,
  e: NewWebhookEndpoint,
): Promise<WebhookEndpoint> {
  return toEndpoint(
    await db.one(sql.type(endpointRow)`
      INSERT INTO webhook_endpoints (id, url, event_types, enabled, description,
                                     secret_ciphertext, secret_key_id)
      VALUES (${e.id}, ${e.url}, ${sql.array(e.eventTypes, 'text')}, ${e.enabled},
              ${e.description}, ${sql.binary(e.secret.ciphertext)}, ${e.secret.keyId})
      RETURNING ${COLUMNS}`),
  );
}

/** The endpoint, or WEBHOOK_ENDPOINT_NOT_FOUND; `forUpdate` locks its row. */
export async function getWebhookEndpointById(
  db: Db,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<WebhookEndpoint> {
  const row = await db.maybeOne(sql.type(endpointRow)`
    SELECT ${COLUMNS} FROM webhook_endpoints WHERE id = ${id}
    ${options.forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
  if (row === null) throw webhookEndpointNotFound();
  return toEndpoint(row);
}

export interface WebhookEndpointCursor {
  createdAt: string;
  id: string;
}

const endpointCursorCreatedAtRow = endpointRow.extend({ cursor_created_at: z.string() });

/** One page of endpoints in (created_at, id) order after `after`. */
export async function findWebhookEndpointsPage(
  db: Db,
  after: WebhookEndpointCursor | null,
  limit: number,
): Promise<{ endpoint: WebhookEndpoint; cursor: WebhookEndpointCursor }[]> {
  const condition =
    after === null
      ? sql.fragment`true`
      : sql.fragment`(created_at, id) >
          ((${after.createdAt}::timestamp AT TIME ZONE 'UTC'), ${after.id}::uuid)`;
  const rows = await db.any(sql.type(endpointCursorCreatedAtRow)`
    SELECT ${COLUMNS},
           to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_created_at
    FROM webhook_endpoints
    WHERE ${condition}
    ORDER BY created_at, id
    LIMIT ${limit}`);
  return rows.map((r) => ({
    endpoint: toEndpoint(r),
    cursor: { createdAt: r.cursor_created_at, id: r.id },
  }));
}

export interface WebhookEndpointChanges {
  url?: string;
  eventTypes?: string[];
  enabled?: boolean;
  description?: string;
}

/** Sets the given fields; WEBHOOK_ENDPOINT_NOT_FOUND when there is no such endpoint. */
export async function updateWebhookEndpoint(
  db: Db,
  id: string,
  c: WebhookEndpointChanges,
): Promise<WebhookEndpoint> {
  const row = await db.maybeOne(sql.type(endpointRow)`
    UPDATE webhook_endpoints
    SET url = COALESCE(${c.url ?? null}, url),
        event_types = COALESCE(${c.eventTypes ? sql.array(c.eventTypes, 'text') : null}::text[],
                               event_types),
        enabled = COALESCE(${c.enabled ?? null}, enabled),
        description = COALESCE(${c.description ?? null}, description),
        updated_at = now()
    WHERE id = ${id}
    RETURNING ${COLUMNS}`);
  if (row === null) throw webhookEndpointNotFound();
  return toEndpoint(row);
}

const idRow = z.object({ id: z.string() });

/** Deletes the endpoint and (cascading) its deliveries; WEBHOOK_ENDPOINT_NOT_FOUND without one. */
export async function deleteWebhookEndpoint(db: Db, id: string): Promise<void> {
  const row = await db.maybeOne(sql.type(idRow)`
    DELETE FROM webhook_endpoints WHERE id = ${id} RETURNING id`);
  if (row === null) throw webhookEndpointNotFound();
}

/**
 * Installs a new secret; the current one becomes the previous, signing too until
 * `previousExpiresAt` (a previous secret from an earlier rotation is dropped).
 */
export async function rotateWebhookEndpointSecret(
  db: Db,
  id: string,
  secret: SealedSecret,
  overlapSec: number,
): Promise<WebhookEndpoint> {
  const row = await db.maybeOne(sql.type(endpointRow)`
    UPDATE webhook_endpoints
    SET previous_secret_ciphertext = CASE WHEN ${overlapSec} > 0 THEN secret_ciphertext END,
        previous_secret_expires_at =
          CASE WHEN ${overlapSec} > 0 THEN now() + make_interval(secs => ${overlapSec}) END,
        secret_ciphertext = ${sql.binary(secret.ciphertext)},
        secret_key_id = ${secret.keyId},
        updated_at = now()
    WHERE id = ${id}
    RETURNING ${COLUMNS}`);
  if (row === null) throw webhookEndpointNotFound();
  return toEndpoint(row);
}
