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
 * permission cache (one lookup, no query while cached): for a session's token, the user's
 * global roles and its membership in the token's organisation; for an API key (or a token
 * minted from one), the key's roles its owner holds now, with no organisation.
 */
export async function validateToken(
  deps: Pick<AuthDeps, 'keys' | 'sessionCache' | 'pool' | 'tokens' | 'log'> &
    ApiKeyAuthDeps & { permissions: PermissionCache },
  credential: string,
  info: RequestInfo,
): Promise<ValidatedToken | null> {
  const found = await introspectToken(deps, credential, info);
  if (found === null) return null;
  const subject: AuthzSubject =
    found.serviceAccountId !== null
      ? { kind: 'service_account', id: found.serviceAccountId }
      : { kind: 'user', id: found.userId ?? '' };
  const session = found.principalType === 'user_session';
  const grants = await deps.permissions.grants(subject, session ? found.organizationId : null);
  return { ...found, ...effectiveAccess(grants, session ? null : found.roles) };
}
