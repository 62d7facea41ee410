import type { ServiceAccount, ServiceAccountStatus } from '../domain/ServiceAccount.ts';
import { revokeApiKeysOfOwner } from '../storage/apiKeys.ts';
import { getServiceAccountById, updateServiceAccountStatus } from '../storage/serviceAccounts.ts';
import type { AuditScope } from './AuditScope.ts';
import { requireServiceAccountId } from './getServiceAccount.ts';

/**
 * What DisableServiceAccount, EnableServiceAccount and DeleteServiceAccount share: in one
 * audited transaction, set the account's status to `target` (skipped when it already has it,
 * so the call is idempotent). Deleting also revokes every key of the account. The row's
 * notification (sa:<id>, and k:<id> per revoked key) reaches every instance's key cache, so
 * the keys stop (or start again) working within a second. Returns the account afterwards and
 * how many keys were revoked.
 */
export async function changeServiceAccountStatus(
  audit: AuditScope,
  serviceAccountId: string,
  target: ServiceAccountStatus,
): Promise<{ account: ServiceAccount; revokedKeys: number }> {
  const id = requireServiceAccountId(serviceAccountId);
  return audit.transaction(async (tx) => {
    const before = await getServiceAccountById(tx, id, { forUpdate: true });
    const account =
      before.status === target ? before : await updateServiceAccountStatus(tx, id, target);
    const revokedKeys =
      target === 'deleted' ? await revokeApiKeysOfOwner(tx, { kind: 'service_account', id }) : 0;
    audit.note({
      details: {
        previous_status: before.status,
        ...(target === 'deleted' ? { revoked_keys: revokedKeys } : {}),
      },
    });
    return { account, revokedKeys };
  });
}
