import { z } from 'zod';
import { AuditAction } from '../gen/gatehouse/admin/v1/user_admin_service.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

type NameOf<K> = K extends `AUDIT_ACTION_${infer R}` ? Lowercase<R> : never;

/** The audit vocabulary, from the contract's AuditAction enum: "user_get", "login", ... */
export type AuditActionName = NameOf<Exclude<keyof typeof AuditAction, 'AUDIT_ACTION_UNSPECIFIED'>>;

const CODES = new Map<string, AuditAction>(
  Object.entries(AuditAction)
    .filter(([key]) => key !== 'AUDIT_ACTION_UNSPECIFIED')
    .map(([key, code]) => [key.slice('AUDIT_ACTION_'.length).toLowerCase(), code]),
);
// Rows written before the vocabulary was fixed in the contract (v0.1 recorded reuse so).
const LEGACY_NAMES: ReadonlyMap<string, AuditActionName> = new Map([
  ['refresh_token_reuse', 'refresh_reuse_detected'],
]);

/** Whether `name` is an action of the vocabulary. */
export function isAuditActionName(name: string): name is AuditActionName {
  return CODES.has(name);
}

/** The contract's name for a stored action (legacy names mapped to their current one). */
export function currentAuditActionName(stored: string): string {
  return LEGACY_NAMES.get(stored) ?? stored;
}

/** The enum value of a stored action name; UNSPECIFIED for a name the contract lacks. */
export function auditActionCode(stored: string): AuditAction {
  return CODES.get(currentAuditActionName(stored)) ?? AuditAction.AUDIT_ACTION_UNSPECIFIED;
}

/** The stored names that mean `name` (itself and any legacy spelling), for filtering. */
export function storedAuditActionNames(name: AuditActionName): string[] {
  return [name, ...[...LEGACY_NAMES].filter(([, current]) => current === name).map(([old]) => old)];
}

export interface AuditEventInput {
  action: AuditActionName;
  outcome: 'success' | 'failure' | 'denied';
  actorUserId?: string | null;
  subjectUserId?: string | null;
  clientIp?: string;
  userAgent?: string;
  requestId?: string;
  /** Never secrets: no passwords, tokens or hashes. */
  details?: Record<string, string | number | boolean | null>;
}

/** Appends one audit event; call it inside the transaction of the change it records. */
export async function insertAuditEvent(db: Db, event: AuditEventInput): Promise<void> {
  await db.query(sql.typeAlias('void')`
    INSERT INTO audit_events (actor_user_id, subject_user_id, action, outcome, ip_address,
                              user_agent, request_id, details)
    VALUES (${event.actorUserId ?? null}, ${event.subjectUserId ?? null}, ${event.action},
            ${event.outcome}, ${event.clientIp ?? ''}, ${event.userAgent ?? ''},
            ${event.requestId ?? ''}, ${sql.jsonb(event.details ?? {})})`);
}

export const auditEventRow = z.object({
  id: z.number(),
  occurred_at: z.date(),
  actor_user_id: z.string().nullable(),
  subject_user_id: z.string().nullable(),
  action: z.string(),
  outcome: z.enum(['success', 'failure', 'denied']),
  ip_address: z.string(),
  user_agent: z.string(),
  request_id: z.string(),
  details: z.record(z.string(), z.unknown()),
});
export type AuditEventRow = z.infer<typeof auditEventRow>;

/** What ListAuditEvents filters on; null matches everything. */
export interface AuditEventFilter {
  /** Events whose actor or subject is this user. */
  userId: string | null;
  action: AuditActionName | null;
  /** Inclusive lower bound of occurred_at. */
  since: Date | null;
  /** Exclusive upper bound of occurred_at. */
  until: Date | null;
}

/** One page of audit events, newest first (id DESC), with ids below `beforeId`. */
export async function findAuditEventsPage(
  db: Db,
  filter: AuditEventFilter,
  beforeId: number | null,
  limit: number,
): Promise<readonly AuditEventRow[]> {
  const conditions = [sql.fragment`true`];
  if (filter.userId !== null) {
    conditions.push(
      sql.fragment`(actor_user_id = ${filter.userId} OR subject_user_id = ${filter.userId})`,
    );
  }
  if (filter.action !== null) {
    const names = storedAuditActionNames(filter.action);
    conditions.push(sql.fragment`action = ANY(${sql.array(names, 'text')})`);
  }
  if (filter.since !== null) {
    conditions.push(sql.fragment`occurred_at >= ${sql.timestamp(filter.since)}`);
  }
  if (filter.until !== null) {
    conditions.push(sql.fragment`occurred_at < ${sql.timestamp(filter.until)}`);
  }
  if (beforeId !== null) conditions.push(sql.fragment`id < ${beforeId}`);
  return db.any(sql.type(auditEventRow)`
    SELECT id, occurred_at, actor_user_id, subject_user_id, action, outcome, ip_address,
           user_agent, request_id, details
    FROM audit_events
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY id DESC
    LIMIT ${limit}`);
}
