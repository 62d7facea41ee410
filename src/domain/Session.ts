import type { AuthMethodReference } from './SecondFactor.ts';

/** A login session: the family its refresh tokens belong to, with both of its deadlines. */
export interface Session {
  id: string;
  userId: string;
  createdAt: Date;
  lastUsedAt: Date;
  /** Slides forward on every refresh, never past `expiresAt`. */
  idleExpiresAt: Date;
  /** The absolute end of the session. */
  expiresAt: Date;
  revokedAt: Date | null;
  ipAddress: string;
  userAgent: string;
  /** The organisation the session acts in (its tokens' `org_id`); null for none. */
  organizationId: string | null;
  /** How the user authenticated, RFC 8176 names (its tokens' `amr`): ['pwd'], ['pwd','otp','mfa']. */
  amr: readonly AuthMethodReference[];
  /** When the user authenticated (its tokens' `auth_time`); kept by refreshes. */
  authTime: Date;
}

/**
 * Why sessions were revoked: one name per way a session ends, stored as
 * `sessions.revoked_reason` and used as the `reason` label of gatehouse_sessions_revoked_total.
 */
export type RevocationReason =
  | 'logout'
  | 'session_revoke'
  | 'user_revoke_others'
  | 'password_change'
  | 'password_reset'
  | 'refresh_token_reuse'
  | 'admin_revoke'
  | 'admin_disable'
  | 'admin_delete';

/** Whether a session may be used right now (ValidateToken), with its user's current roles. */
export interface SessionLiveness {
  userId: string;
  /** Not revoked, not past either deadline, and the user is active. */
  live: boolean;
  roles: string[];
  expiresAt: Date;
}

/** One refresh token of a session (only its SHA-256 is stored, and it is not carried here). */
export interface RefreshToken {
  id: number;
  sessionId: string;
  /** The successor it was rotated to. */
  replacedById: number | null;
  createdAt: Date;
  expiresAt: Date;
  /** When it was first rotated; a later presentation outside the grace window is reuse. */
  usedAt: Date | null;
  revokedAt: Date | null;
}
