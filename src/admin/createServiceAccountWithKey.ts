import type { RequestInfo } from '../auth/AuthDeps.ts';
import type { ApiKeyLimits } from '../config/apiKeyConfig.ts';
import type { CreatedApiKey } from '../domain/ApiKey.ts';
import type { ServiceAccount } from '../domain/ServiceAccount.ts';
import { recordAudit } from '../storage/audit.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { insertServiceAccount } from '../storage/serviceAccounts.ts';
import { type CreateServiceAccountInput, checkNewServiceAccount } from './createServiceAccount.ts';
import { createServiceAccountKeyIn, keyAuditDetails } from './serviceAccountKeys.ts';

/**
 * The admin CLI's `service-account create`: a service account and its first key (holding all
 * its roles, not expiring unless SERVICE_ACCOUNT_KEY_MAX_TTL_DAYS bounds it) in one transaction with one `service_account_create` audit row
 * (source "cli", the key's id; never its secret), so automation can be bootstrapped without a
 * person and without a running server. Returns the secret for the CLI to print once.
 */
export async function createServiceAccountWithKey(
  deps: { pool: DatabasePool; apiKeyLimits: ApiKeyLimits },
  input: CreateServiceAccountInput,
  info: RequestInfo,
): Promise<{ account: ServiceAccount; key: CreatedApiKey }> {
  const account = checkNewServiceAccount(input);
  return deps.pool.transaction(async (tx) => {
    const created = await insertServiceAccount(tx, account);
    const key = await createServiceAccountKeyIn(
      tx,
      {
        serviceAccountId: created.id,
        displayName: 'created by the admin CLI',
        roles: [],
        expiresAt: null,
      },
      deps.apiKeyLimits,
    );
    await recordAudit(tx, 'service_account_create', {
      request: info,
      details: {
        source: 'cli',
        service_account_id: created.id,
        name: created.name,
        ...keyAuditDetails(key.apiKey),
      },
    });
    return { account: created, key };
  });
}
