import { classifyCredential } from '../apiKeys/legacyApiKeySecret.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { type ApiKeyAuthDeps, authenticateApiKey } from './authenticateApiKey.ts';
import { mustEnrol } from './createFactorPresenceCache.ts';
import { validateAccessToken } from './validateAccessToken.ts';

/** What ValidateToken answers for an active credential. */
export interface Introspection {
  principalType: 'user_session' | 'user_api_key' | 'service_account';
  /** The session's user, or the owner of a user's key. */
  userId: string | null;
  sessionId: string | null;
  serviceAccountId: string | null;
  apiKeyId: string | null;
  /** Current roles: the user's (sessions), the key's roles its owner holds now (keys). */
  roles: string[];
  /** The token's `jti`; '' for an API key secret. */
  tokenId: string;
  /** null for an API key secret. */
  issuedAt: Date | null;
  /** null for a key that does not expire. */
  expiresAt: Date | null;
  /** '' and [] for an API key secret (it is no token). */
  issuer: string;
  audience: string[];
  /** The organisation a session's token was issued for (`org_id`); null for none and keys. */
  organizationId: string | null;
  /** A session token's `amr` (how its user authenticated); [] for keys. */
  amr: string[];
  /** A session token's `auth_time`; null for keys (and tokens from before it existed). */
  authTime: Date | null;
  /** A session whose user must enrol a second factor first (MFA_REQUIRED_ROLES); false for keys. */
  mfaEnrollmentRequired: boolean;
}

/**
 * ValidateToken's answer for `credential`: a session's access token, an API key's secret (also
 * an imported legacy one), or an access token minted from a key; null when it is none of these
 * or no longer live. A legacy secret's lookup spends the per-source credential budget unless
 * the key is live (authenticateApiKey), so it may throw RATE_LIMITED.
 */
export async function introspectToken(
  deps: Pick<AuthDeps, 'keys' | 'sessionCache' | 'pool' | 'tokens' | 'log' | 'mfa'> &
    ApiKeyAuthDeps,
  credential: string,
  info: RequestInfo,
): Promise<Introspection | null> {
  const session =
    classifyCredential(credential) === 'access_token'
      ? await validateAccessToken(deps, credential)
      : null;
  if (session !== null) {
    return {
      principalType: 'user_session',
      userId: session.userId,
      sessionId: session.sessionId,
      serviceAccountId: null,
      apiKeyId: null,
      roles: session.roles,
      tokenId: session.tokenId,
      issuedAt: session.issuedAt,
      expiresAt: session.expiresAt,
      issuer: session.issuer,
      audience: session.audience,
      organizationId: session.organization?.id ?? null,
      amr: session.amr,
      authTime: session.authTime,
      mfaEnrollmentRequired: await mustEnrol(deps.mfa, session.userId, session.roles),
    };
  }
  const caller = await authenticateApiKey(deps, credential, info);
  if (caller === null) return null;
  const { principal, token, live } = caller;
  const expiries = [live.state.keyExpiresAt, live.state.secretExpiresAt, token?.expiresAt ?? null]
    .filter((d): d is Date => d !== null)
    .map((d) => d.getTime());
  return {
    principalType: principal.kind,
    userId: principal.kind === 'user_api_key' ? principal.userId : null,
    sessionId: null,
    serviceAccountId: principal.kind === 'service_account' ? principal.serviceAccountId : null,
    apiKeyId: principal.apiKeyId,
    roles: principal.roles,
    tokenId: token?.tokenId ?? '',
    issuedAt: token?.issuedAt ?? null,
    expiresAt: expiries.length > 0 ? new Date(Math.min(...expiries)) : null,
    issuer: token?.issuer ?? '',
    audience: token?.audience ?? [],
    organizationId: null,
    amr: [],
    authTime: null,
    mfaEnrollmentRequired: false,
  };
}
