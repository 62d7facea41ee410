import type { ServiceAccount } from '../domain/ServiceAccount.ts';
import { getServiceAccountById } from '../storage/serviceAccounts.ts';
import type { AdminDeps } from './AdminDeps.ts';
import { requireId } from './requireUserId.ts';

/** The service account id of a request, or INVALID_ARGUMENT naming `field`. */
export function requireServiceAccountId(
  value: string | undefined,
  field = 'service_account_id',
): string {
  return requireId(value, field, 'service account');
}

/** One service account that is not deleted; SERVICE_ACCOUNT_NOT_FOUND otherwise. */
export async function getServiceAccount(
  deps: Pick<AdminDeps, 'pool'>,
  serviceAccountId: string,
): Promise<ServiceAccount> {
  return getServiceAccountById(deps.pool, requireServiceAccountId(serviceAccountId));
}
