import {
  isViolation,
  type NormalizedEmail,
  normalizeDisplayName,
  normalizeEmail,
  normalizeUsername,
} from '../auth/normalize.ts';
import { type ManagedUser, toManagedUser } from '../domain/User.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import {
  forgetCachedSessions,
  type SessionCacheUpdateDeps,
} from '../sessions/updateSessionCache.ts';
import { revokeOneTimeTokens } from '../storage/oneTimeTokens.ts';
import { findLiveSessionIdsByUser } from '../storage/sessions.ts';
import {
  getUserById,
  lockAdminMembership,
  type UserChanges,
  updateUserProfile,
} from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { assertNotLastActiveAdmin } from './assertNotLastActiveAdmin.ts';
import { normalizeRoles } from './normalizeRoles.ts';
import { parseUpdateMask } from './parseUpdateMask.ts';
import { requireUserId } from './requireUserId.ts';

/** The update_mask paths UpdateUser accepts (proto field names of gatehouse.auth.v1.User). */
const UPDATABLE_PATHS = ['display_name', 'username', 'email', 'roles', 'email_verified'] as const;
type Path = (typeof UPDATABLE_PATHS)[number];

export interface UpdateUserInput {
  /** The new values; only the fields named by `paths` are read. */
  user:
    | {
        id: string;
        email: string;
        username?: string | undefined;
        displayName: string;
        roles: string[];
        emailVerified: boolean;
      }
    | undefined;
  paths: readonly string[] | undefined;
}

/** Validates the mask and the values it names; returns the user id and the changes. */
function parseUpdate(input: UpdateUserInput): {
  id: string;
  paths: Set<Path>;
  changes: Omit<UserChanges, 'email'> & { email?: NormalizedEmail };
} {
  const violations: FieldViolation[] = [];
  const id = requireUserId(input.user?.id, 'user.id');
  const user = input.user;
  const paths = parseUpdateMask(UPDATABLE_PATHS, input.paths, violations);
  const changes: Omit<UserChanges, 'email'> & { email?: NormalizedEmail } = {};
  if (user && paths.has('email')) {
    const email = normalizeEmail(user.email, 'user.email');
    if (isViolation(email)) violations.push(email);
    else changes.email = email;
  }
  if (user && paths.has('username')) {
    const raw = user.username ?? '';
    const username = raw.trim() === '' ? null : normalizeUsername(raw, 'user.username');
    if (isViolation(username)) violations.push(username);
    else changes.username = username;
  }
  if (user && paths.has('display_name')) {
    const name = normalizeDisplayName(user.displayName, 'user.display_name');
    if (isViolation(name)) violations.push(name);
    else changes.displayName = name;
  }
  if (user && paths.has('roles')) {
    const roles = normalizeRoles(user.roles, 'user.roles');
    if (isViolation(roles)) violations.push(roles);
    else changes.roles = roles;
  }
  if (user && paths.has('email_verified')) changes.emailVerified = user.emailVerified;
  if (violations.length > 0) throw invalidArgument(violations);
  return { id, paths, changes };
}

/**
 * Updates the fields named by the mask. A new email address (by its normalised form) resets
 * email_verified unless the mask sets it too. Taking `admin` away from the last active admin is
 * LAST_ACTIVE_ADMIN; a role change reaches ValidateToken at once (cached sessions are dropped).
 */
export async function updateUser(
  deps: SessionCacheUpdateDeps & Pick<AdminDeps, 'hasher'>,
  audit: AuditScope,
  input: UpdateUserInput,
): Promise<ManagedUser> {
  const { id, paths, changes } = parseUpdate(input);
  const { updated, liveSessionIds } = await audit.transaction(async (tx) => {
    const demotes = changes.roles !== undefined && !changes.roles.includes('admin');
    if (demotes) await lockAdminMembership(tx);
    const { user: before } = await getUserById(tx, id, { forUpdate: true });
    if (demotes) await assertNotLastActiveAdmin(tx, before);
    const { email, ...rest } = changes;
    const write: UserChanges = rest;
    if (email !== undefined) {
      const sameAddress = email.normalized === before.emailNormalized;
      write.email = {
        ...email,
        verified: changes.emailVerified ?? (sameAddress ? before.emailVerified : false),
      };
      if (!sameAddress) {
        // Links mailed to the old address must not work, even if the address comes back later.
        await revokeOneTimeTokens(tx, id);
      }
    }
    const updated = await updateUserProfile(tx, id, write);
    const { user } = updated;
    const rolesChanged = before.roles.join(',') !== user.roles.join(',');
    audit.note({
      details: {
        fields: [...paths].sort().join(','),
        ...(rolesChanged
          ? { previous_roles: before.roles.join(','), roles: user.roles.join(',') }
          : {}),
      },
    });
    return {
      updated,
      liveSessionIds: rolesChanged ? await findLiveSessionIdsByUser(tx, id) : [],
    };
  });
  await forgetCachedSessions(deps, liveSessionIds);
  return toManagedUser(updated, deps.hasher);
}
