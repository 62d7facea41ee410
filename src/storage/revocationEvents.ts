import { z } from 'zod';
import type {
  RevocationEvent,
  RevocationEventReason,
  RevocationHorizon,
  RevocationScope,
} from '../domain/RevocationEvent.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

const SCOPES = [
  'session',
  'user',
  'user_organization',
  'api_key',
] as const satisfies readonly RevocationScope[];
const REASONS = [
  'logout',
  'session_revoked',
  'password_changed',
  'password_reset',
  'refresh_reuse',
  'user_disabled',
  'user_deleted',
  'api_key_revoked',
  'membership_removed',
  'service_account_disabled',
  'other',
] as const satisfies readonly RevocationEventReason[];

const eventRow = z.object({
  position: z.number(),
  scope: z.enum(SCOPES),
  reason: z.enum(REASONS),
  session_id: z.string().nullable(),
  user_id: z.string().nullable(),
  api_key_id: z.string().nullable(),
  service_account_id: z.string().nullable(),
  organization_id: z.string().nullable(),
  revoke_time: z.date(),
});

const toEvent = (r: z.infer<typeof eventRow>): RevocationEvent => ({
  position: r.position,
  scope: r.scope,
  reason: r.reason,
  sessionId: r.session_id,
  userId: r.user_id,
  apiKeyId: r.api_key_id,
  serviceAccountId: r.service_account_id,
  organizationId: r.organization_id,
  revokeTime: r.revoke_time,
});

const nRow = z.object({ n: z.number() });

/**
 * Gives the committed events that have none their position, in commit order (migration 0014
 * explains why this makes the cursor gap-free); returns how many. Runs in its own transaction
 * (the numbering is serialised by a transaction advisory lock): never call it inside another.
 */
export async function sequenceRevocationEvents(db: Db): Promise<number> {
  return db.oneFirst(sql.type(nRow)`
    SELECT gatehouse_sequence_revocation_events() AS n`);
}

/** Numbered events after `position`, oldest first, at most `limit`. */
export async function findRevocationEventsAfter(
  db: Db,
  position: number,
  limit: number,
): Promise<RevocationEvent[]> {
  const rows = await db.any(sql.type(eventRow)`
    SELECT position, scope, reason, session_id, user_id, api_key_id, service_account_id,
           organization_id, revoke_time
    FROM revocation_events
    WHERE position > ${position}
    ORDER BY position
    LIMIT ${limit}`);
  return rows.map(toEvent);
}

const prunedThroughNewestRow = z.object({ pruned_through: z.number(), newest: z.number() });

/** The newest pruned and the newest numbered position. */
export async function findRevocationHorizon(db: Db): Promise<RevocationHorizon> {
  const row = await db.one(sql.type(prunedThroughNewestRow)`
    SELECT h.pruned_through,
           greatest(h.pruned_through, coalesce((SELECT max(position) FROM revocation_events), 0))
             AS newest
    FROM revocation_events_horizon h`);
  return { prunedThrough: row.pruned_through, newest: row.newest };
}

/**
 * Deletes numbered events older than `keepSec` seconds, at most `limit` (oldest first), moving
 * the horizon past them; returns how many.
 */
export async function pruneRevocationEvents(
  db: Db,
  keepSec: number,
  limit: number,
): Promise<number> {
  return db.oneFirst(sql.type(nRow)`
    SELECT gatehouse_prune_revocation_events(make_interval(secs => ${keepSec}), ${limit}) AS n`);
}
