import { randomBytes } from 'node:crypto';
import type { AuthDeps } from '../auth/AuthDeps.ts';
import { findOrCreateAppSecret } from '../storage/appSecrets.ts';
import type { SessionRow } from '../storage/sessions.ts';
import type { UserRow } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import { type AdminCall, createAdminCallRunner } from './createAdminCallRunner.ts';
import { createPageTokens } from './createPageTokens.ts';
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
  createUser(call: AdminCall, input: CreateUserInput): Promise<UserRow>;
  getUser(userId: string): Promise<UserRow>;
  listUsers: (input: ListUsersInput) => ReturnType<typeof listUsers>;
  updateUser(call: AdminCall, input: UpdateUserInput): Promise<UserRow>;
  deleteUser(call: AdminCall, userId: string): Promise<void>;
  disableUser(call: AdminCall, userId: string): Promise<UserRow>;
  enableUser(call: AdminCall, userId: string): Promise<UserRow>;
  unlockUser(call: AdminCall, userId: string): Promise<UserRow>;
  listUserSessions(userId: string): Promise<readonly SessionRow[]>;
  revokeUserSessions(call: AdminCall, userId: string): Promise<number>;
  listAuditEvents: (input: ListAuditEventsInput) => ReturnType<typeof listAuditEvents>;
  importUsers(call: AdminCall, entries: readonly ImportEntry[]): Promise<ImportResult[]>;
}

/**
 * Binds the admin use cases to the auth dependencies. Page tokens are signed with
 * PAGE_TOKEN_SECRET, or else with a random secret kept in app_secrets (created by the first
 * instance that needs it), so every instance of one database accepts every other's tokens.
 */
export function createAdminService(
  auth: AuthDeps,
  pageTokenSecret: string | undefined,
): AdminService {
  const configured = pageTokenSecret === undefined ? null : Buffer.from(pageTokenSecret, 'utf8');
  let stored: Promise<Buffer> | undefined;
  const secret = async () => {
    if (configured !== null) return configured;
    stored ??= findOrCreateAppSecret(auth.pool, 'page_token', () => randomBytes(32)).catch(
      (error: unknown) => {
        stored = undefined;
        throw error;
      },
    );
    return stored;
  };
  const deps: AdminDeps = { ...auth, pageTokens: createPageTokens(secret) };
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
    unlockUser: (call, userId) => unlockUser(call, userId),
    listUserSessions: (userId) => listUserSessions(deps, userId),
    revokeUserSessions: (call, userId) => revokeUserSessions(deps, call, userId),
    listAuditEvents: (input) => listAuditEvents(deps, input),
    importUsers: (call, entries) => importUsers(deps, call, entries),
  };
}
