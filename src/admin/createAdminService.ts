import type { AuthDeps } from '../auth/AuthDeps.ts';
import type { SessionPageRequest } from '../auth/sessions.ts';
import type { ManagedUser } from '../domain/User.ts';
import type { AdminDeps } from './AdminDeps.ts';
import { type AdminCall, createAdminCallRunner } from './createAdminCallRunner.ts';
import { type CreateUserInput, createUser } from './createUser.ts';
import { deleteUser } from './deleteUser.ts';
import { disableUser } from './disableUser.ts';
import { enableUser } from './enableUser.ts';
import { getUser } from './getUser.ts';
import { type ImportEntry, type ImportResult, importUsers } from './importUsers.ts';
import { type ListAuditEventsInput, listAuditEvents } from './listAuditEvents.ts';
import { type ListUsersInput, listUsers } from './listUsers.ts';
import { unlockUser } from './unlockUser.ts';
import { type UpdateUserInput, updateUser } from './updateUser.ts';
import { listUserSessions, revokeUserSessions } from './userSessions.ts';

/** The UserAdminService use cases bound to their dependencies, plus the call wrapper. */
export interface AdminService {
  deps: AdminDeps;
  /** Wraps an operation with admin authorization and its one audit event (see createAdminCallRunner). */
  adminCall: ReturnType<typeof createAdminCallRunner>;
  createUser(call: AdminCall, input: CreateUserInput): Promise<ManagedUser>;
  getUser(userId: string): Promise<ManagedUser>;
  listUsers: (input: ListUsersInput) => ReturnType<typeof listUsers>;
  updateUser(call: AdminCall, input: UpdateUserInput): Promise<ManagedUser>;
  deleteUser(call: AdminCall, userId: string): Promise<void>;
  disableUser(call: AdminCall, userId: string): Promise<ManagedUser>;
  enableUser(call: AdminCall, userId: string): Promise<ManagedUser>;
  unlockUser(call: AdminCall, userId: string): Promise<ManagedUser>;
  listUserSessions: (
    userId: string,
    page: SessionPageRequest,
  ) => ReturnType<typeof listUserSessions>;
  revokeUserSessions(call: AdminCall, userId: string): Promise<number>;
  listAuditEvents: (input: ListAuditEventsInput) => ReturnType<typeof listAuditEvents>;
  importUsers(call: AdminCall, entries: readonly ImportEntry[]): Promise<ImportResult[]>;
}

/** Binds the admin use cases to the auth dependencies (which carry the page-token codec). */
export function createAdminService(auth: AuthDeps): AdminService {
  const deps: AdminDeps = auth;
  return {
    deps,
    adminCall: createAdminCallRunner(deps.pool, (clientIp) =>
      deps.limits.admitSource('read', clientIp),
    ),
    createUser: (call, input) => createUser(deps, call, input),
    getUser: (userId) => getUser(deps, userId),
    listUsers: (input) => listUsers(deps, input),
    updateUser: (call, input) => updateUser(deps, call, input),
    deleteUser: (call, userId) => deleteUser(deps, call, userId),
    disableUser: (call, userId) => disableUser(deps, call, userId),
    enableUser: (call, userId) => enableUser(deps, call, userId),
    unlockUser: (call, userId) => unlockUser(deps, call, userId),
    listUserSessions: (userId, page) => listUserSessions(deps, userId, page),
    revokeUserSessions: (call, userId) => revokeUserSessions(deps, call, userId),
    listAuditEvents: (input) => listAuditEvents(deps, input),
    importUsers: (call, entries) => importUsers(deps, call, entries),
  };
}
