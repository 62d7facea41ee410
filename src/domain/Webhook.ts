import type { AuditActionName, AuditOutcome } from './AuditEvent.ts';

/**
 * The webhook event of each audit action, by outcome: the one table of what reaches receivers
 * from audit rows. Audit rows are written in the transaction of the change they record, so the
 * event commits with the change or not at all (src/storage/audit.ts). Only successes are events,
 * except the failed sign-ins, which are events by being failures.
 *
 * Not here: `session.created` and `session.revoked` are one event per session, queued by the
 * storage functions that insert and revoke sessions (src/storage/sessions.ts), so a call that
 * ends several sessions sends one per session and no path is missed or counted twice.
 */
const EVENT_OF_ACTION: Partial<
  Record<AuditActionName, Partial<Record<AuditOutcome, WebhookEventType>>>
> = {
  register: { success: 'user.created' },
  user_create: { success: 'user.created' },
  user_update: { success: 'user.updated' },
  user_delete: { success: 'user.deleted' },
  user_disable: { success: 'user.disabled' },
  user_enable: { success: 'user.enabled' },
  user_unlock: { success: 'user.unlocked' },
  account_lock: { success: 'user.locked' },
  login: { failure: 'login.failed' },
  mfa_verify: { failure: 'login.failed' },
  passkey_login: { failure: 'login.failed' },
  password_change: { success: 'password.changed' },
  password_reset: { success: 'password.reset' },
  email_verify: { success: 'email.verified' },
  totp_enrollment_confirm: { success: 'mfa.totp_enrolled' },
  totp_disable: { success: 'mfa.totp_disabled' },
  recovery_codes_regenerate: { success: 'mfa.recovery_codes_regenerated' },
  recovery_code_use: { success: 'mfa.recovery_code_used' },
  user_mfa_reset: { success: 'mfa.reset' },
  passkey_register: { success: 'mfa.passkey_registered' },
  passkey_delete: { success: 'mfa.passkey_deleted' },
  api_key_create: { success: 'api_key.created' },
  service_account_key_create: { success: 'api_key.created' },
  api_key_revoke: { success: 'api_key.revoked' },
  user_api_key_revoke: { success: 'api_key.revoked' },
  service_account_key_revoke: { success: 'api_key.revoked' },
  api_key_rotate: { success: 'api_key.rotated' },
  member_add: { success: 'membership.added' },
  invitation_accept: { success: 'membership.added' },
  member_remove: { success: 'membership.removed' },
  member_roles_set: { success: 'membership.updated' },
};

/** Every event type an endpoint may subscribe to, in the order docs/webhooks.md lists them. */
export const WEBHOOK_EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deleted',
  'user.disabled',
  'user.enabled',
  'user.locked',
  'user.unlocked',
  'session.created',
  'session.revoked',
  'login.failed',
  'password.changed',
  'password.reset',
  'email.verified',
  'mfa.totp_enrolled',
  'mfa.totp_disabled',
  'mfa.recovery_codes_regenerated',
  'mfa.recovery_code_used',
  'mfa.reset',
  'mfa.passkey_registered',
  'mfa.passkey_deleted',
  'api_key.created',
  'api_key.revoked',
  'api_key.rotated',
  'membership.added',
  'membership.removed',
  'membership.updated',
  // SendTestWebhookEvent only; never subscribed to.
  'webhook.test',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** The types queued per session by src/storage/sessions.ts, never from an audit row. */
export const SESSION_EVENT_TYPES: readonly WebhookEventType[] = [
  'session.created',
  'session.revoked',
];

/** The types an endpoint may list in event_types (all but webhook.test). */
export const SUBSCRIBABLE_EVENT_TYPES: readonly WebhookEventType[] = WEBHOOK_EVENT_TYPES.filter(
  (t) => t !== 'webhook.test',
);

/** The event an audit row of `action` with `outcome` is, or null when it is none. */
export function webhookEventTypeOf(
  action: AuditActionName,
  outcome: AuditOutcome,
): WebhookEventType | null {
  return EVENT_OF_ACTION[action]?.[outcome] ?? null;
}

/** The audit actions that produce `type` (docs and tests). */
export function auditActionsOf(type: WebhookEventType): AuditActionName[] {
  return (Object.keys(EVENT_OF_ACTION) as AuditActionName[]).filter((action) =>
    Object.values(EVENT_OF_ACTION[action] ?? {}).includes(type),
  );
}

/** The webhook-id of an event: `evt_` and its UUID without dashes. */
export function webhookEventId(uuid: string): string {
  return `evt_${uuid.replaceAll('-', '')}`;
}

/** An endpoint events are POSTed to (never its secret). */
export interface WebhookEndpoint {
  id: string;
  url: string;
  eventTypes: string[];
  enabled: boolean;
  description: string;
  createdAt: Date;
  updatedAt: Date;
  /** Until when the secret a rotation replaced still signs; null when there is none. */
  previousSecretExpiresAt: Date | null;
}

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'dead';

/** One event on its way to one endpoint. */
export interface WebhookDelivery {
  id: string;
  endpointId: string;
  /** The event's webhook-id, `evt_...`. */
  eventId: string;
  eventType: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** Null once succeeded or dead. */
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt: Date | null;
}
