import type { AdminCall } from '../admin/createAdminCallRunner.ts';
import type { AdminService } from '../admin/createAdminService.ts';
import type { AuditActionName } from '../domain/AuditEvent.ts';
import {
  type UserAdminServiceServer,
  UserAdminServiceService,
} from '../gen/gatehouse/admin/v1/user_admin_service.ts';
import type { UnaryHandler, UnaryHandlers } from './bindService.ts';
import { auditEventToProto, managedUserToProto as managed, sessionToProto } from './toProto.ts';

type Method = keyof UnaryHandlers<UserAdminServiceServer>;
type Handler<K extends Method> = NonNullable<UnaryHandlers<UserAdminServiceServer>[K]>;

/** Every RPC with its audit action and operation: a new RPC without one fails to compile. */
type Operations = {
  [K in Method]-?: {
    action: AuditActionName;
    run: (req: Parameters<Handler<K>>[0], call: AdminCall) => ReturnType<Handler<K>>;
  };
};

// UserStatus -> ListUsers status filter; UNSPECIFIED (0) means "all but deleted".
const STATUS_FILTER: Record<number, string | null> = {
  0: null,
  1: 'active',
  2: 'disabled',
  3: 'deleted',
};

/**
 * UserAdminService transport. EVERY method of the service definition goes through
 * `admin.adminCall` (authentication, the admin-role check before anything else, one audit
 * event per call), including one this table lacks, which then answers UNIMPLEMENTED, but only
 * to admins.
 */
export function createAdminHandlers(admin: AdminService): UnaryHandlers<UserAdminServiceServer> {
  const operations: Operations = {
    createUser: {
      action: 'user_create',
      run: async (req, call) => ({
        user: managed(
          await admin.createUser(call, {
            email: req.email,
            username: req.username,
            displayName: req.displayName,
            roles: req.roles,
            initialPassword: req.initialPassword,
            emailVerified: req.emailVerified,
          }),
        ),
      }),
    },
    getUser: {
      action: 'user_get',
      run: async (req) => ({ user: managed(await admin.getUser(req.userId)) }),
    },
    listUsers: {
      action: 'user_list',
      run: async (req) => {
        const page = await admin.listUsers({
          pageSize: req.pageSize,
          pageToken: req.pageToken,
          query: req.query,
          role: req.role,
          status:
            req.status in STATUS_FILTER ? (STATUS_FILTER[req.status] ?? null) : `${req.status}`,
        });
        return { users: page.users.map(managed), nextPageToken: page.nextPageToken };
      },
    },
    updateUser: {
      action: 'user_update',
      run: async (req, call) => ({
        user: managed(await admin.updateUser(call, { user: req.user, paths: req.updateMask })),
      }),
    },
    deleteUser: {
      action: 'user_delete',
      run: async (req, call) => {
        await admin.deleteUser(call, req.userId);
        return {};
      },
    },
    disableUser: {
      action: 'user_disable',
      run: async (req, call) => ({ user: managed(await admin.disableUser(call, req.userId)) }),
    },
    enableUser: {
      action: 'user_enable',
      run: async (req, call) => ({ user: managed(await admin.enableUser(call, req.userId)) }),
    },
    unlockUser: {
      action: 'user_unlock',
      run: async (req, call) => ({ user: managed(await admin.unlockUser(call, req.userId)) }),
    },
    listUserSessions: {
      action: 'user_sessions_list',
      run: async (req, call) => {
        const page = await admin.listUserSessions(req.userId, {
          pageSize: req.pageSize,
          pageToken: req.pageToken,
        });
        return {
          sessions: page.sessions.map((s) => sessionToProto(s, call.principal.sessionId)),
          nextPageToken: page.nextPageToken,
        };
      },
    },
    revokeUserSessions: {
      action: 'user_sessions_revoke',
      run: async (req, call) => ({
        revokedCount: await admin.revokeUserSessions(call, req.userId),
      }),
    },
    listAuditEvents: {
      action: 'audit_events_list',
      run: async (req) => {
        const page = await admin.listAuditEvents({
          pageSize: req.pageSize,
          pageToken: req.pageToken,
          userId: req.userId,
          action: req.action,
          since: req.since,
          until: req.until,
        });
        return { events: page.events.map(auditEventToProto), nextPageToken: page.nextPageToken };
      },
    },
    importUsers: {
      action: 'user_import',
      run: async (req, call) => {
        const results = await admin.importUsers(call, req.users);
        const imported = results.filter((r) => r.ok).length;
        return { results, importedCount: imported, failedCount: results.length - imported };
      },
    },
  };

  const handlers: Record<string, UnaryHandler<never, unknown>> = {};
  for (const name of Object.keys(UserAdminServiceService)) {
    const op = (operations as Record<string, Operations[Method] | undefined>)[name];
    if (op === undefined) throw new Error(`UserAdminService.${name} has no operation`);
    handlers[name] = admin.adminCall(op.action, op.run as never) as UnaryHandler<never, unknown>;
  }
  return handlers as UnaryHandlers<UserAdminServiceServer>;
}
