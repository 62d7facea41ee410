import type { RequestInfo } from '../auth/AuthDeps.ts';
import type { ServiceAccount } from '../domain/ServiceAccount.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { recordAudit } from '../storage/audit.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { findServiceAccountIdByName } from '../storage/serviceAccounts.ts';
import type { AuditDetails, AuditScope } from './AuditScope.ts';
import { changeServiceAccountStatus } from './changeServiceAccountStatus.ts';
import { normalizeServiceAccountName } from './checkServiceAccountFields.ts';

/**
 * The admin CLI's `service-account disable|enable --name`: what DisableServiceAccount and
 * EnableServiceAccount do (changeServiceAccountStatus: idempotent, the sa:<id> notification
 * reaches every instance's key cache within a second), for an operator without an admin
 * credential, e.g. to cut off a leaked key's account at once. The change and its audit row
 * (`service_account_disable` / `_enable`, source "cli", the account's id and name and its
 * previous status) commit together. Unknown or deleted: SERVICE_ACCOUNT_NOT_FOUND.
 */
export async function setServiceAccountStatusByName(
  deps: { pool: DatabasePool },
  input: { name: string; status: 'active' | 'disabled' },
  info: RequestInfo,
): Promise<{ account: ServiceAccount; changed: boolean }> {
  const name = normalizeServiceAccountName(input.name);
  if (typeof name !== 'string') throw invalidArgument([name]);
  const id = await findServiceAccountIdByName(deps.pool, name);
  if (id === null) throw new AppError('SERVICE_ACCOUNT_NOT_FOUND', 'no such service account');
  let details: AuditDetails = { source: 'cli', service_account_id: id, name };
  const audit: AuditScope = {
    note(note) {
      details = { ...details, ...note.details };
    },
    transaction: (fn) =>
      deps.pool.transaction(async (tx) => {
        const value = await fn(tx);
        await recordAudit(
          tx,
          input.status === 'active' ? 'service_account_enable' : 'service_account_disable',
          {
            request: info,
            details,
          },
        );
        return value;
      }),
  };
  const { account } = await changeServiceAccountStatus(audit, id, input.status);
  return { account, changed: details.previous_status !== input.status };
}
