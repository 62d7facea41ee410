import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { recordAudit } from '../storage/audit.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { auditActorOf, type Principal } from './Principal.ts';

/** What ExchangeApiKey needs: signing keys, the minted tokens' lifetime, the audit log. */
export type ExchangeApiKeyDeps = Pick<AuthDeps, 'keys' | 'pool' | 'apiKeyTokenTtlSec'>;

/** An access token minted for an API key's principal. */
export interface ExchangedToken {
  accessToken: string;
  expiresAt: Date;
}

/**
 * Mints a short-lived access token for the principal of the key the caller presented (the
 * client-credentials grant), with the roles the key holds now, and audits it. Only the key's
 * secret may be exchanged: an access token (even one minted here) is refused like an invalid
 * credential, so a token cannot be renewed without the key.
 */
export async function exchangeApiKey(
  deps: ExchangeApiKeyDeps,
  principal: Principal,
  info: RequestInfo,
): Promise<ExchangedToken> {
  if (principal.kind === 'user' || principal.credential !== 'api_key') throw invalidAccessToken();
  const issued = await deps.keys.signApiKeyToken({
    principalType: principal.kind,
    subject: principal.kind === 'service_account' ? principal.serviceAccountId : principal.userId,
    apiKeyId: principal.apiKeyId,
    roles: principal.roles,
    ttlSec: deps.apiKeyTokenTtlSec,
  });
  await recordAudit(deps.pool, 'api_key_exchange', {
    ...auditActorOf(principal),
    request: info,
    details: { token_id: issued.tokenId, roles: principal.roles.join(',') },
  });
  return { accessToken: issued.token, expiresAt: issued.expiresAt };
}
