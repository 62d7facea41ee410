import type { KeyPage, KeyPageRequest } from '../apiKeys/ownerApiKeys.ts';
import type { SessionPageRequest } from '../auth/sessions.ts';
import type { ApiKey } from '../domain/ApiKey.ts';
import type { ManagedUser } from '../domain/User.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { type CreateUserInput, createUser } from './createUser.ts';
import { deleteUser } from './deleteUser.ts';
import { disableUser } from './disableUser.ts';
import { enableUser } from './enableUser.ts';
import { getUser } from './getUser.ts';
import { type ImportEntry, type ImportResult, importUsers } from './importUsers.ts';
import { type ListAuditEventsInput, listAuditEvents } from './listAuditEvents.ts';
import { type ListUsersInput, listUsers } from './listUsers.ts';
import { type MfaReset, resetUserMfa } from './resetUserMfa.ts';
import { unlockUser } from './unlockUser.ts';
import { type UpdateUserInput, updateUser } from './updateUser.ts';
import { listUserApiKeys, revokeUserApiKey } from './userApiKeys.ts';
import { listUserSessions, revokeUserSessions } from './userSessions.ts';

/**
 * The UserAdminService use cases bound to their dependencies. Authorization and the call's one
 * audit event are the request path's (each RPC's call policy); state changes take its
 * AuditScope, so the change and its audit row commit together.
 */
export interface AdminService {
  createUser(audit: AuditScope, input: CreateUserInput): Promise<ManagedUser>;
  getUser(userId: string): Promise<ManagedUser>;
  listUsers: (input: ListUsersInput) => ReturnType<typeof listUsers>;
  updateUser(audit: AuditScope, input: UpdateUserInput): Promise<ManagedUser>;
  deleteUser(audit: AuditScope, userId: string): Promise<void>;
  disableUser(audit: AuditScope, userId: string): Promise<ManagedUser>;
  enableUser(audit: AuditScope, userId: string): Promise<ManagedUser>;
  unlockUser(audit: AuditScope, userId: string): Promise<ManagedUser>;
  listUserSessions: (
    userId: string,
    page: SessionPageRequest,
  ) => ReturnType<typeof listUserSessions>;
  revokeUserSessions(audit: AuditScope, userId: string): Promise<number>;
  resetUserMfa(audit: AuditScope, userId: string): Promise<MfaReset>;
  listAuditEvents: (input: ListAuditEventsInput) => ReturnType<typeof listAuditEvents>;
  importUsers(audit: AuditScope, entries: readonly ImportEntry[]): Promise<ImportResult[]>;
  listUserApiKeys(userId: string, page: KeyPageRequest): Promise<KeyPage>;
  revokeUserApiKey(audit: AuditScope, userId: string, apiKeyId: string): Promise<ApiKey>;
}

/** Binds the admin use cases to their dependencies (the page-token codec among them). */
export function createAdminService(deps: AdminDeps): AdminService {
  return {
    createUser: (audit, input) => createUser(deps, audit, input),
    getUser: (userId) => getUser(deps, userId),
    listUsers: (input) => listUsers(deps, input),
    updateUser: (audit, input) => updateUser(deps, audit, input),
    deleteUser: (audit, userId) => deleteUser(deps, audit, userId),
    disableUser: (audit, userId) => disableUser(deps, audit, userId),
    enableUser: (audit, userId) => enableUser(deps, audit, userId),
    unlockUser: (audit, userId) => unlockUser(deps, audit, userId),
    listUserSessions: (userId, page) => listUserSessions(deps, userId, page),
    revokeUserSessions: (audit, userId) => revokeUserSessions(deps, audit, userId),
    resetUserMfa: (audit, userId) => resetUserMfa(deps, audit, userId),
    listAuditEvents: (input) => listAuditEvents(deps, input),
    importUsers: (audit, entries) => importUsers(deps, audit, entries),
    listUserApiKeys: (userId, page) => listUserApiKeys(deps, userId, page),
    revokeUserApiKey,
  };
}
