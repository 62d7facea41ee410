import { sql } from './sql.ts';
import type { Db } from './users.ts';

export interface AuditEventInput {
  action: string;
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
