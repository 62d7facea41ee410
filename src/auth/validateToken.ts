import type { PermissionCache } from '../authz/createPermissionCache.ts';
import { type EffectiveAccess, effectiveAccess } from '../authz/effectiveAccess.ts';
import type { AuthzSubject } from '../domain/PermissionGrants.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import type { ApiKeyAuthDeps } from './authenticateApiKey.ts';
import { type Introspection, introspectToken } from './introspectToken.ts';

/** ValidateToken's answer for an active credential: who it stands for and what it may do now. */
export type ValidatedToken = Introspection & EffectiveAccess;

/**
 * ValidateToken: introspectToken's answer and the credential's effective access now, from the
 * permission cache (no query while cached): for a session's token with an organisation, the
 * user's global roles and its membership there (one entry per user and organisation); without
 * one, and for an API key (or a token minted from one), what the current global roles grant
 * (the key's roles its owner holds now), from the one catalog of global roles.
 */
export async function validateToken(
  deps: Pick<AuthDeps, 'keys' | 'sessionCache' | 'pool' | 'tokens' | 'log' | 'mfa'> &
    ApiKeyAuthDeps & { permissions: PermissionCache },
  credential: string,
  info: RequestInfo,
): Promise<ValidatedToken | null> {
  const found = await introspectToken(deps, credential, info);
  if (found === null) return null;
  if (found.principalType !== 'user_session' || found.organizationId === null) {
    // No organisation: the credential's current global roles (the session's, as the session
    // cache holds them; a key's that its owner holds) are known already, so what they grant
    // comes from the catalog of global roles, with no query per subject.
    const grants = await deps.permissions.globalGrants(found.roles);
    const permissions = [...new Set(grants.map((g) => g.permission))].sort();
    return { ...found, organizationRoles: [], permissions };
  }
  const user: AuthzSubject = { kind: 'user', id: found.userId ?? '' };
  const grants = await deps.permissions.grants(user, found.organizationId);
  return { ...found, ...effectiveAccess(grants, null) };
}
