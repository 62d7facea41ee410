import { z } from 'zod';
import { type AuditActionName, storedAuditActionNames } from './audit.ts';
import { sql } from './sql.ts';
import type { Db } from './users.ts';

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
