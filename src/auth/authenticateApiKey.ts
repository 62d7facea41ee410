import type { LiveApiKey } from '../apiKeys/createApiKeyResolver.ts';
import { classifyCredential } from '../apiKeys/legacyApiKeySecret.ts';
import type { VerifiedApiKeyToken } from '../keys/createAccessTokens.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import type { ApiKeyCredential, ApiKeyPrincipal } from './Principal.ts';

/**
 * What authenticating with an API key needs: the key-state resolver, token verification, and
 * the per-source budget legacy key lookups spend.
 */
export type ApiKeyAuthDeps = Pick<AuthDeps, 'apiKeys' | 'keys' | 'credentialBudget'>;

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
 * Resolves a bearer credential that stands for an API key: the key's secret (`ghk_...`, or an
 * imported legacy secret of another format), or an access token ExchangeApiKey minted from it,
 * whose key must still be live (and still belong to the token's subject). Null for anything
 * else, and for dead keys: the caller cannot tell which.
 *
 * A legacy secret may be far easier to guess than a `ghk_` key, so each of its lookups that
 * the key cache cannot answer spends a point of the per-source credential budget BEFORE the
 * database is read, and gets it back if the key is live: failed guesses use the budget up, and
 * then even a right guess is refused (RATE_LIMITED) until the window moves on. Known keys in
 * steady use are answered from the cache and cost nothing.
 */
export async function authenticateApiKey(
  deps: ApiKeyAuthDeps,
  credential: string,
  info: RequestInfo,
): Promise<ApiKeyCaller | null> {
  const kind = classifyCredential(credential);
  if (kind !== 'access_token') {
    const live =
      kind === 'api_key'
        ? await deps.apiKeys.resolveSecret(credential, info)
        : await resolveLegacySecret(deps, credential, info);
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

/** A legacy secret's live key, paid for with the per-source budget (see authenticateApiKey). */
async function resolveLegacySecret(
  deps: ApiKeyAuthDeps,
  secret: string,
  info: RequestInfo,
): Promise<LiveApiKey | null> {
  let spent = false;
  const live = await deps.apiKeys.resolveSecret(secret, info, {
    beforeRead: async () => {
      await deps.credentialBudget.spend(info.clientIp);
      spent = true;
    },
  });
  if (live !== null && spent) await deps.credentialBudget.refund(info.clientIp);
  return live;
}
