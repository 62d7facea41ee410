import type { ServiceAccountAdminService } from '../admin/createServiceAccountAdminService.ts';
import type { ImportApiKeyEntry } from '../admin/importApiKeys.ts';
import type {
  ImportedApiKey,
  ServiceAccountAdminServiceServer,
} from '../gen/gatehouse/admin/v1/service_account_admin_service.ts';
import type { UnaryHandlers } from './bindService.ts';
import { serviceAccountToProto as account, apiKeyToProto } from './toProto.ts';

// ServiceAccountStatus -> ListServiceAccounts status filter; UNSPECIFIED (0): all but deleted.
const STATUS_FILTER: Record<number, string | null> = {
  0: null,
  1: 'active',
  2: 'disabled',
  3: 'deleted',
};

/** An ImportedApiKey as the use case reads it: its oneofs as tagged values, or null. */
function importEntry(k: ImportedApiKey): ImportApiKeyEntry {
  const { credential, owner } = k;
  return {
    credential:
      credential === undefined
        ? null
        : credential.$case === 'secret'
          ? { kind: 'secret', secret: credential.value }
          : { kind: 'secret_sha256', hex: credential.value },
    owner:
      owner === undefined
        ? null
        : owner.$case === 'userEmail'
          ? { kind: 'user', email: owner.value }
          : { kind: 'service_account', name: owner.value },
    displayName: k.displayName,
    roles: k.roles,
    createdAt: k.createTime ?? null,
    expiresAt: k.expireTime ?? null,
    disabled: k.disabled,
  };
}

/**
 * ServiceAccountAdminService transport: translates messages to use-case calls and back. The
 * admin role, the per-source budget and the one audit event per call are each RPC's call
 * policy, applied before a handler runs; state changes hand the call's audit scope on.
 */
export function createServiceAccountAdminHandlers(
  service: ServiceAccountAdminService,
): UnaryHandlers<ServiceAccountAdminServiceServer> {
  return {
    async createServiceAccount(req, ctx) {
      const created = await service.createServiceAccount(ctx.audit, {
        name: req.name,
        displayName: req.displayName,
        description: req.description,
        roles: req.roles,
      });
      return { serviceAccount: account(created) };
    },
    async getServiceAccount(req) {
      return { serviceAccount: account(await service.getServiceAccount(req.serviceAccountId)) };
    },
    async listServiceAccounts(req) {
      const page = await service.listServiceAccounts({
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        status: req.status in STATUS_FILTER ? (STATUS_FILTER[req.status] ?? null) : `${req.status}`,
      });
      return {
        serviceAccounts: page.serviceAccounts.map(account),
        nextPageToken: page.nextPageToken,
      };
    },
    async updateServiceAccount(req, ctx) {
      const updated = await service.updateServiceAccount(ctx.audit, {
        serviceAccount: req.serviceAccount,
        paths: req.updateMask,
      });
      return { serviceAccount: account(updated) };
    },
    async deleteServiceAccount(req, ctx) {
      return {
        revokedKeyCount: await service.deleteServiceAccount(ctx.audit, req.serviceAccountId),
      };
    },
    async disableServiceAccount(req, ctx) {
      const disabled = await service.disableServiceAccount(ctx.audit, req.serviceAccountId);
      return { serviceAccount: account(disabled) };
    },
    async enableServiceAccount(req, ctx) {
      const enabled = await service.enableServiceAccount(ctx.audit, req.serviceAccountId);
      return { serviceAccount: account(enabled) };
    },
    async createServiceAccountKey(req, ctx) {
      const created = await service.createServiceAccountKey(ctx.audit, {
        serviceAccountId: req.serviceAccountId,
        displayName: req.displayName,
        roles: req.roles,
        expiresAt: req.expireTime ?? null,
      });
      return { apiKey: apiKeyToProto(created.apiKey), secret: created.secret };
    },
    async listServiceAccountKeys(req) {
      const page = await service.listServiceAccountKeys(req.serviceAccountId, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { apiKeys: page.apiKeys.map(apiKeyToProto), nextPageToken: page.nextPageToken };
    },
    async revokeServiceAccountKey(req, ctx) {
      const revoked = await service.revokeServiceAccountKey(
        ctx.audit,
        req.serviceAccountId,
        req.apiKeyId,
      );
      return { apiKey: apiKeyToProto(revoked) };
    },
    async importApiKeys(req, ctx) {
      const results = await service.importApiKeys(ctx.audit, req.apiKeys.map(importEntry));
      const imported = results.filter((r) => r.ok).length;
      return { results, importedCount: imported, failedCount: results.length - imported };
    },
  };
}
