import { isApiKeyLike } from '../apiKeys/apiKeySecret.ts';
import type { LiveApiKey } from '../apiKeys/createApiKeyResolver.ts';
import type { VerifiedApiKeyToken } from '../keys/createAccessTokens.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import type { ApiKeyCredential, ApiKeyPrincipal } from './Principal.ts';

/** What authenticating with an API key needs: the key-state resolver and token verification. */
export type ApiKeyAuthDeps = Pick<AuthDeps, 'apiKeys' | 'keys'>;

/** The principal a live key acts as, with the roles it holds now. */
export function apiKeyPrincipal(live: LiveApiKey, credential: ApiKeyCredential): ApiKeyPrincipal {
  const { owner, apiKeyId } = live.state;
  return owner.kind === 'service_account'
    ? {
        kind: 'service_account',
        serviceAccountId: owner.id,
        apiKeyId,
        roles: live.roles,
        credential,
      }
    : { kind: 'user_api_key', userId: owner.id, apiKeyId, roles: live.roles, credential };
}

/** A live API key and what presented it, or null. */
export interface ApiKeyCaller {
  live: LiveApiKey;
  principal: ApiKeyPrincipal;
  /** The verified claims when the credential was an access token minted from the key. */
  token: VerifiedApiKeyToken | null;
}

/**
 * Resolves a bearer credential that stands for an API key: the key's secret (`ghk_...`), or an
 * access token ExchangeApiKey minted from it, whose key must still be live (and still belong to
 * the token's subject). Null for anything else, and for dead keys: the caller cannot tell which.
 */
export async function authenticateApiKey(
  deps: ApiKeyAuthDeps,
  credential: string,
  info: RequestInfo,
): Promise<ApiKeyCaller | null> {
  if (isApiKeyLike(credential)) {
    const live = await deps.apiKeys.resolveSecret(credential, info);
    return live && { live, principal: apiKeyPrincipal(live, 'api_key'), token: null };
  }
  const token = await deps.keys.verifyApiKeyToken(credential);
  if (token === null) return null;
  const live = await deps.apiKeys.resolveById(token.apiKeyId, info);
  if (live === null) return null;
  const principal = apiKeyPrincipal(live, 'access_token');
  const subject =
    principal.kind === 'service_account' ? principal.serviceAccountId : principal.userId;
  if (principal.kind !== token.principalType || subject !== token.subject) return null;
  return { live, principal, token };
}
