import type { IssuedTokens } from '../auth/issueSession.ts';
import type { Session, Tokens, User } from '../gen/gatehouse/auth/v1/auth_service.ts';
import { UserStatus } from '../gen/gatehouse/auth/v1/auth_service.ts';
import type { SessionRow } from '../storage/sessions.ts';
import type { UserRow } from '../storage/users.ts';

const STATUS = {
  active: UserStatus.USER_STATUS_ACTIVE,
  disabled: UserStatus.USER_STATUS_DISABLED,
  deleted: UserStatus.USER_STATUS_DELETED,
} as const;

/** The public view of a user: never the password hash or lockout internals. */
export function userToProto(u: UserRow): User {
  return {
    id: u.id,
    email: u.email,
    ...(u.username === null ? {} : { username: u.username }),
    displayName: u.display_name,
    roles: u.roles,
    emailVerified: u.email_verified,
    status: STATUS[u.status],
    createdAt: u.created_at,
    updatedAt: u.updated_at,
    ...(u.last_login_at === null ? {} : { lastLoginAt: u.last_login_at }),
  };
}

export function sessionToProto(s: SessionRow, currentSessionId: string | undefined): Session {
  return {
    id: s.id,
    createdAt: s.created_at,
    lastUsedAt: s.last_used_at,
    expiresAt: s.expires_at,
    idleExpiresAt: s.idle_expires_at,
    ipAddress: s.ip_address,
    userAgent: s.user_agent,
    current: s.id === currentSessionId,
  };
}

export function tokensToProto(t: IssuedTokens): Tokens {
  return {
    accessToken: t.accessToken,
    accessTokenExpiresAt: t.accessTokenExpiresAt,
    refreshToken: t.refreshToken,
    refreshTokenExpiresAt: t.refreshTokenExpiresAt,
    tokenType: 'Bearer',
    sessionId: t.sessionId,
  };
}
