import type { CallAccess } from '../domain/CallAccess.ts';
import type { Member } from '../domain/Organization.ts';
import { AppError } from '../errors/AppError.ts';
import type { Db } from '../storage/Db.ts';
import { countMembersWithPermission } from '../storage/memberships.ts';
import { findRolePermissions } from '../storage/roles.ts';

/** The built-in permission that makes a member a manager of its organisation. */
export const MANAGE_PERMISSION = 'org:manage';

/**
 * A delegated caller (admitted by a permission) acts in the organisation its call policy
 * checked and nowhere else. The request path checked the same request field, so this only
 * fails if a use case is handed another organisation by mistake: refused, never acted on.
 */
export function requireWithin(access: CallAccess, organizationId: string): void {
  if (access.kind === 'permission' && access.organizationId !== organizationId) {
    throw new AppError('PERMISSION_REQUIRED', 'this call may act in one organisation only');
  }
}

/**
 * A delegated caller may grant only what it holds there itself: each role of `added` (the
 * roles being given, not those a member has already) must hold no permission outside the
 * caller's; GRANT_EXCEEDS_CALLER otherwise. A global admin (admitted by role) is not bound.
 */
export async function requireGrantWithin(
  tx: Db,
  access: CallAccess,
  added: readonly string[],
): Promise<void> {
  if (access.kind === 'role' || added.length === 0) return;
  const held = new Set(access.permissions);
  const permissions = await findRolePermissions(tx, added);
  for (const roleId of added) {
    const beyond = (permissions.get(roleId) ?? []).filter((p) => !held.has(p));
    if (beyond.length > 0) {
      throw new AppError(
        'GRANT_EXCEEDS_CALLER',
        `the role ${roleId} grants ${beyond.join(', ')}, which you do not hold in this ` +
          'organisation; only what you hold yourself can be granted',
      );
    }
  }
}

/** Whether any of `roleIds` grants org:manage. */
async function grantsManage(tx: Db, roleIds: readonly string[]): Promise<boolean> {
  const permissions = await findRolePermissions(tx, roleIds);
  return [...permissions.values()].some((p) => p.includes(MANAGE_PERMISSION));
}

/**
 * A delegated caller may not leave its organisation without a manager: when `member` is a
 * manager and would stop being one (removed: `newRoleIds` null, or re-roled without
 * org:manage), another membership must hold org:manage, else LAST_ORGANIZATION_MANAGER. The
 * caller's transaction holds the organisation row FOR UPDATE, so concurrent removals count one
 * after the other and two managers removing each other leave one. A global admin is not bound.
 */
export async function requireAnotherManager(
  tx: Db,
  access: CallAccess,
  member: Member,
  newRoleIds: readonly string[] | null,
): Promise<void> {
  if (access.kind === 'role') return;
  if (!(await grantsManage(tx, member.roleIds))) return;
  if (newRoleIds !== null && (await grantsManage(tx, newRoleIds))) return;
  const others = await countMembersWithPermission(
    tx,
    member.organizationId,
    MANAGE_PERMISSION,
    member.id,
  );
  if (others === 0) {
    throw new AppError(
      'LAST_ORGANIZATION_MANAGER',
      `this is the organisation's last manager (a member whose roles grant ${MANAGE_PERMISSION}); ` +
        'give another member such a role first',
    );
  }
}
