import { z } from 'zod';
import type { AuditActionName, AuditEvent, AuditOutcome } from '../domain/AuditEvent.ts';
import { webhookEventTypeOf } from '../domain/Webhook.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';
import { queueWebhookEvents, webhookEventDataOf } from './webhookEvents.ts';

// The audit log (table audit_events): appended to by every use case, read by ListAuditEvents.

// Rows written before the vocabulary was fixed in the contract (v0.1 recorded reuse so).
const LEGACY_NAMES: ReadonlyMap<string, AuditActionName> = new Map([
  ['refresh_token_reuse', 'refresh_reuse_detected'],
]);

/** The stored names that mean `name` (itself and any legacy spelling), for filtering. */
function storedAuditActionNames(name: AuditActionName): string[] {
  return [name, ...[...LEGACY_NAMES].filter(([, current]) => current === name).map(([old]) => old)];
}

/** Audit details: never secrets (no passwords, tokens or hashes). */
type AuditDetails = Record<string, string | number | boolean | null>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface AuditEventInput {
  action: AuditActionName;
  outcome: AuditOutcome;
  actorUserId?: string | null;
  actorServiceAccountId?: string | null;
  apiKeyId?: string | null;
  subjectUserId?: string | null;
  clientIp?: string;
  userAgent?: string;
  requestId?: string;
  details?: AuditDetails;
}

/** The INSERT of one audit event. */
function auditInsertFragment(event: AuditEventInput) {
  const org = event.details?.organization_id;
  const organizationId = typeof org === 'string' && UUID.test(org) ? org : null;
  return sql.fragment`
    INSERT INTO audit_events (actor_user_id, actor_service_account_id, api_key_id,
                              subject_user_id, action, outcome, ip_address, user_agent,
                              request_id, details, organization_id)
    VALUES (${event.actorUserId ?? null}, ${event.actorServiceAccountId ?? null},
            ${event.apiKeyId ?? null}, ${event.subjectUserId ?? null}, ${event.action},
            ${event.outcome}, ${event.clientIp ?? ''}, ${event.userAgent ?? ''},
            ${event.requestId ?? ''}, ${sql.jsonb(event.details ?? {})}, ${organizationId})`;
}

/**
 * Appends one audit event, and queues the webhook event it is (src/domain/Webhook.ts) in the
 * same statement, so the two are written together or not at all; call it inside the
 * transaction of the change it records.
 */
async function insertAuditEvent(db: Db, event: AuditEventInput): Promise<void> {
  const insert = auditInsertFragment(event);
  const webhookType = webhookEventTypeOf(event.action, event.outcome);
  if (webhookType === null) {
    await db.query(sql.typeAlias('void')`${insert}`);
    return;
  }
  await queueWebhookEvents(db, webhookType, [webhookEventDataOf(event)], insert);
}

/** Who did what to whom, from where: the parts of an audit event a use case supplies. */
export interface AuditRecord {
  /** The user acting; omitted for events without one (failed logins, operator tools). */
  actor?: string | null;
  /** The service account acting (with an API key); actor is then null. */
  actorServiceAccount?: string | null;
  /** The API key the actor used (a service account's, or the acting user's own). */
  apiKey?: string | null;
  /** The user acted on; the actor unless given. */
  subject?: string | null;
  /** 'success' unless given. */
  outcome?: AuditOutcome;
  /** Where the request came from (a RequestInfo). */
  request: { clientIp: string; userAgent: string; requestId: string };
  details?: AuditDetails;
}

function auditEventInput(
  action: AuditActionName,
  {
    actor = null,
    actorServiceAccount = null,
    apiKey = null,
    subject = actor,
    outcome = 'success',
    request,
    details,
  }: AuditRecord,
): AuditEventInput {
  return {
    action,
    outcome,
    actorUserId: actor,
    actorServiceAccountId: actorServiceAccount,
    apiKeyId: apiKey,
    subjectUserId: subject,
    clientIp: request.clientIp,
    userAgent: request.userAgent,
    requestId: request.requestId,
    details,
  };
}

/** Appends the audit event of `action`, inside the transaction of the change it records. */
export async function recordAudit(
  db: Db,
  action: AuditActionName,
  record: AuditRecord,
): Promise<void> {
  await insertAuditEvent(db, auditEventInput(action, record));
}

/**
 * The INSERT recordAudit sends for `action`, for the benchmark's raw-pg baseline of Refresh;
 * only for actions that queue no webhook event (those are one statement with the event's).
 */
export function auditStatement(action: AuditActionName, record: AuditRecord) {
  const event = auditEventInput(action, record);
  if (webhookEventTypeOf(event.action, event.outcome) !== null) {
    throw new Error(`audit action ${action} queues a webhook event: not a single INSERT`);
  }
  return sql.typeAlias('void')`${auditInsertFragment(event)}`;
}

const auditEventRow = z.object({
  id: z.number(),
  occurred_at: z.date(),
  actor_user_id: z.string().nullable(),
  actor_service_account_id: z.string().nullable(),
  api_key_id: z.string().nullable(),
  subject_user_id: z.string().nullable(),
  action: z.string(),
  outcome: z.enum(['success', 'failure', 'denied']),
  ip_address: z.string(),
  user_agent: z.string(),
  request_id: z.string(),
  details: z.record(z.string(), z.unknown()),
});

function toAuditEvent(r: z.infer<typeof auditEventRow>): AuditEvent {
  return {
    id: r.id,
    occurredAt: r.occurred_at,
    actorUserId: r.actor_user_id,
    actorServiceAccountId: r.actor_service_account_id,
    apiKeyId: r.api_key_id,
    subjectUserId: r.subject_user_id,
    action: LEGACY_NAMES.get(r.action) ?? r.action,
    outcome: r.outcome,
    ipAddress: r.ip_address,
    userAgent: r.user_agent,
    requestId: r.request_id,
    details: r.details,
  };
}

/** What ListAuditEvents filters on; null matches everything. */
export interface AuditEventFilter {
  /** Events whose actor or subject is this user. */
  userId: string | null;
  action: AuditActionName | null;
  /** Inclusive lower bound of occurred_at. */
  since: Date | null;
  /** Exclusive upper bound of occurred_at. */
  until: Date | null;
  /** Events about this organisation (a scan of audit_events_organization_idx). */
  organizationId: string | null;
}

/** One page of audit events, newest first (id DESC), with ids below `beforeId`. */
export async function findAuditEventsPage(
  db: Db,
  filter: AuditEventFilter,
  beforeId: number | null,
  limit: number,
): Promise<AuditEvent[]> {
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
  if (filter.organizationId !== null) {
    conditions.push(sql.fragment`organization_id = ${filter.organizationId}`);
  }
  if (beforeId !== null) conditions.push(sql.fragment`id < ${beforeId}`);
  const rows = await db.any(sql.type(auditEventRow)`
    SELECT id, occurred_at, actor_user_id, actor_service_account_id, api_key_id,
           subject_user_id, action, outcome, ip_address,
           user_agent, request_id, details
    FROM audit_events
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY id DESC
    LIMIT ${limit}`);
  return rows.map(toAuditEvent);
}
