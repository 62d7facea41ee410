import type { AdminService } from '../admin/createAdminService.ts';
import { sessionIdOf } from '../auth/Principal.ts';
import type { UserAdminServiceServer } from '../gen/gatehouse/admin/v1/user_admin_service.ts';
import type { UnaryHandlers } from './bindService.ts';
import {
  apiKeyToProto,
  auditEventToProto,
  managedUserToProto as managed,
  sessionToProto,
} from './toProto.ts';

// UserStatus -> ListUsers status filter; UNSPECIFIED (0) means "all but deleted".
const STATUS_FILTER: Record<number, string | null> = {
  0: null,
  1: 'active',
  2: 'disabled',
  3: 'deleted',
};

/**
 * UserAdminService transport: translates messages to use-case calls and back. The admin role,
 * the per-source budget and the one audit event per call are each RPC's call policy, applied
 * before a handler runs; state changes hand the call's audit scope to their use case.
 */
export function createAdminHandlers(admin: AdminService): UnaryHandlers<UserAdminServiceServer> {
  return {
    async createUser(req, ctx) {
      const user = await admin.createUser(ctx.audit, {
        email: req.email,
        username: req.username,
        displayName: req.displayName,
        roles: req.roles,
        initialPassword: req.initialPassword,
        emailVerified: req.emailVerified,
      });
      return { user: managed(user) };
    },
    async getUser(req) {
      return { user: managed(await admin.getUser(req.userId)) };
    },
    async listUsers(req) {
      const page = await admin.listUsers({
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        query: req.query,
        role: req.role,
        status: req.status in STATUS_FILTER ? (STATUS_FILTER[req.status] ?? null) : `${req.status}`,
        organizationId: req.organizationId ?? '',
      });
      return { users: page.users.map(managed), nextPageToken: page.nextPageToken };
    },
    async updateUser(req, ctx) {
      const user = await admin.updateUser(ctx.audit, { user: req.user, paths: req.updateMask });
      return { user: managed(user) };
    },
    async deleteUser(req, ctx) {
      await admin.deleteUser(ctx.audit, req.userId);
      return {};
    },
    async disableUser(req, ctx) {
      return { user: managed(await admin.disableUser(ctx.audit, req.userId)) };
    },
    async enableUser(req, ctx) {
      return { user: managed(await admin.enableUser(ctx.audit, req.userId)) };
    },
    async unlockUser(req, ctx) {
      return { user: managed(await admin.unlockUser(ctx.audit, req.userId)) };
    },
    async listUserSessions(req, ctx) {
      const page = await admin.listUserSessions(req.userId, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return {
        sessions: page.sessions.map((s) => sessionToProto(s, sessionIdOf(ctx.principal))),
        nextPageToken: page.nextPageToken,
      };
    },
    async revokeUserSessions(req, ctx) {
      return { revokedCount: await admin.revokeUserSessions(ctx.audit, req.userId) };
    },
    async resetUserMfa(req, ctx) {
      const reset = await admin.resetUserMfa(ctx.audit, req.userId);
      return {
        totpRemoved: reset.totp,
        recoveryCodesRemoved: reset.recoveryCodes,
        passkeysRemoved: reset.passkeys,
        revokedCount: reset.revokedCount,
      };
    },
    async listAuditEvents(req) {
      const page = await admin.listAuditEvents({
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        userId: req.userId,
        action: req.action,
        since: req.since,
        until: req.until,
        organizationId: req.organizationId ?? '',
      });
      return { events: page.events.map(auditEventToProto), nextPageToken: page.nextPageToken };
    },
    async importUsers(req, ctx) {
      const results = await admin.importUsers(ctx.audit, req.users);
      const imported = results.filter((r) => r.ok).length;
      return { results, importedCount: imported, failedCount: results.length - imported };
    },
    async listUserApiKeys(req) {
      const page = await admin.listUserApiKeys(req.userId, {
        pageSize: req.pageSize,
        pageToken: req.pageToken,
      });
      return { apiKeys: page.apiKeys.map(apiKeyToProto), nextPageToken: page.nextPageToken };
    },
    async revokeUserApiKey(req, ctx) {
      const revoked = await admin.revokeUserApiKey(ctx.audit, req.userId, req.apiKeyId);
      return { apiKey: apiKeyToProto(revoked) };
    },
  };
}
