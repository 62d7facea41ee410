/** Which tokens a revocation denies (gatehouse.auth.v1.RevocationScope, by suffix). */
export type RevocationScope = 'session' | 'user' | 'user_organization' | 'api_key';

/** Why it happened (gatehouse.auth.v1.RevocationReason, by suffix). */
export type RevocationEventReason =
  | 'logout'
  | 'session_revoked'
  | 'password_changed'
  | 'password_reset'
  | 'refresh_reuse'
  | 'user_disabled'
  | 'user_deleted'
  | 'api_key_revoked'
  | 'membership_removed'
  | 'service_account_disabled'
  | 'other';

/**
 * One committed revocation of `revocation_events` (migration 0014), as WatchRevocations sends
 * it. `position` orders events by commit; the stream's cursor is its decimal form.
 */
export interface RevocationEvent {
  position: number;
  scope: RevocationScope;
  reason: RevocationEventReason;
  sessionId: string | null;
  userId: string | null;
  apiKeyId: string | null;
  serviceAccountId: string | null;
  organizationId: string | null;
  revokeTime: Date;
}

/** Where the kept events begin and end. */
export interface RevocationHorizon {
  /** The newest position pruned (0: none); a cursor below it may have missed events. */
  prunedThrough: number;
  /** The newest numbered position (prunedThrough when no event is kept). */
  newest: number;
}
