import type { ApiKey, CreatedApiKey } from '../domain/ApiKey.ts';
import type { ServiceAccount } from '../domain/ServiceAccount.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { changeServiceAccountStatus } from './changeServiceAccountStatus.ts';
import { type CreateServiceAccountInput, createServiceAccount } from './createServiceAccount.ts';
import { getServiceAccount } from './getServiceAccount.ts';
import { type ImportApiKeyEntry, type ImportApiKeyResult, importApiKeys } from './importApiKeys.ts';
import { type ListServiceAccountsInput, listServiceAccounts } from './listServiceAccounts.ts';
import {
  type CreateServiceAccountKeyInput,
  createServiceAccountKey,
  type KeyPageRequest,
  listServiceAccountKeys,
  revokeServiceAccountKey,
} from './serviceAccountKeys.ts';
import { type UpdateServiceAccountInput, updateServiceAccount } from './updateServiceAccount.ts';

/**
 * The ServiceAccountAdminService use cases bound to their dependencies. Authorization and the
 * call's one audit event are the request path's (each RPC's call policy); state changes take
 * its AuditScope, so the change and its audit row commit together.
 */
export interface ServiceAccountAdminService {
  createServiceAccount(
    audit: AuditScope,
    input: CreateServiceAccountInput,
  ): Promise<ServiceAccount>;
  getServiceAccount(serviceAccountId: string): Promise<ServiceAccount>;
  listServiceAccounts: (input: ListServiceAccountsInput) => ReturnType<typeof listServiceAccounts>;
  updateServiceAccount(
    audit: AuditScope,
    input: UpdateServiceAccountInput,
  ): Promise<ServiceAccount>;
  /** Returns how many keys the deletion revoked. */
  deleteServiceAccount(audit: AuditScope, serviceAccountId: string): Promise<number>;
  disableServiceAccount(audit: AuditScope, serviceAccountId: string): Promise<ServiceAccount>;
  enableServiceAccount(audit: AuditScope, serviceAccountId: string): Promise<ServiceAccount>;
  createServiceAccountKey(
    audit: AuditScope,
    input: CreateServiceAccountKeyInput,
  ): Promise<CreatedApiKey>;
  listServiceAccountKeys: (
    serviceAccountId: string,
    page: KeyPageRequest,
  ) => ReturnType<typeof listServiceAccountKeys>;
  revokeServiceAccountKey(
    audit: AuditScope,
    serviceAccountId: string,
    apiKeyId: string,
  ): Promise<ApiKey>;
  /** One result per entry, in order. */
  importApiKeys(
    audit: AuditScope,
    entries: readonly ImportApiKeyEntry[],
  ): Promise<ImportApiKeyResult[]>;
}

/** Binds the service-account use cases to the reads' pool and the page-token codec. */
export function createServiceAccountAdminService(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens' | 'apiKeyLimits'>,
): ServiceAccountAdminService {
  const status = async (audit: AuditScope, id: string, target: ServiceAccount['status']) =>
    (await changeServiceAccountStatus(audit, id, target)).account;
  return {
    createServiceAccount,
    getServiceAccount: (id) => getServiceAccount(deps, id),
    listServiceAccounts: (input) => listServiceAccounts(deps, input),
    updateServiceAccount,
    deleteServiceAccount: async (audit, id) =>
      (await changeServiceAccountStatus(audit, id, 'deleted')).revokedKeys,
    disableServiceAccount: (audit, id) => status(audit, id, 'disabled'),
    enableServiceAccount: (audit, id) => status(audit, id, 'active'),
    createServiceAccountKey: (audit, input) => createServiceAccountKey(deps, audit, input),
    listServiceAccountKeys: (id, page) => listServiceAccountKeys(deps, id, page),
    revokeServiceAccountKey,
    importApiKeys: (audit, entries) => importApiKeys(deps, audit, entries),
  };
}
