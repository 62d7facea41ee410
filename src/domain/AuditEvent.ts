import { AuditAction } from '../gen/gatehouse/admin/v1/user_admin_service.ts';

type NameOf<K> = K extends `AUDIT_ACTION_${infer R}` ? Lowercase<R> : never;

/**
 * The audit vocabulary: "user_get", "login", ... It is declared once, in the contract's
 * AuditAction enum, and derived from it here, so a new action exists in one place.
 */
export type AuditActionName = NameOf<Exclude<keyof typeof AuditAction, 'AUDIT_ACTION_UNSPECIFIED'>>;

export type AuditOutcome = 'success' | 'failure' | 'denied';

const CODES = new Map<string, AuditAction>(
  Object.entries(AuditAction)
    .filter(([key]) => key !== 'AUDIT_ACTION_UNSPECIFIED')
    .map(([key, code]) => [key.slice('AUDIT_ACTION_'.length).toLowerCase(), code]),
);

/** Whether `name` is an action of the vocabulary. */
export function isAuditActionName(name: string): name is AuditActionName {
  return CODES.has(name);
}

/** The contract's enum value of an action name; UNSPECIFIED for a name the contract lacks. */
export function auditActionCode(name: string): AuditAction {
  return CODES.get(name) ?? AuditAction.AUDIT_ACTION_UNSPECIFIED;
}

/** One recorded event of the append-only audit log. */
export interface AuditEvent {
  id: number;
  occurredAt: Date;
  /** The user acting (also when through their own API key). */
  actorUserId: string | null;
  /** The service account acting (with one of its API keys). */
  actorServiceAccountId: string | null;
  /** The API key the actor used; null for sessions and calls without a caller. */
  apiKeyId: string | null;
  subjectUserId: string | null;
  /** The current name of the action (older spellings already mapped to it). */
  action: string;
  outcome: AuditOutcome;
  ipAddress: string;
  userAgent: string;
  requestId: string;
  /** Never secrets: no passwords, tokens or hashes. */
  details: Record<string, unknown>;
}
