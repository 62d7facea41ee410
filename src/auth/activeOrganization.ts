import { AppError } from '../errors/AppError.ts';
import type { TokenOrganization } from '../keys/createAccessTokens.ts';
import type { Db } from '../storage/Db.ts';
import { findUserMembership } from '../storage/userMemberships.ts';

/** A session's active organisation as its tokens carry it: the id and the membership's roles. */
export interface ActiveOrganization extends TokenOrganization {
  membershipId: string;
  roles: string[];
}

/**
 * The one answer for a user who is not a member: the same whether the organisation exists, was
 * deleted, or never did, so it reveals nothing about organisations the user is not in.
 */
export function notAMember(): AppError {
  return new AppError('NOT_A_MEMBER', 'you are not a member of this organisation');
}

/**
 * The user's membership in `organizationId`, as stored now, for making it a session's active
 * organisation (Login, SwitchOrganization); NOT_A_MEMBER for a non-member (or no such
 * organisation), ORGANIZATION_DISABLED for a member of a disabled one. The membership stays
 * share-locked until the caller's transaction ends.
 */
export async function requireActiveMembership(
  db: Db,
  userId: string,
  organizationId: string,
): Promise<ActiveOrganization> {
  const found = await findUserMembership(db, userId, organizationId);
  if (found === null || found.organizationStatus === 'deleted') throw notAMember();
  if (found.organizationStatus === 'disabled') {
    throw new AppError('ORGANIZATION_DISABLED', 'this organisation is disabled');
  }
  return { id: organizationId, membershipId: found.membershipId, roles: found.roleNames };
}

/**
 * The session's organisation if the user is still a member and it is still active (Refresh),
 * else null: the session then acts in none.
 */
export async function findActiveMembership(
  db: Db,
  userId: string,
  organizationId: string,
): Promise<ActiveOrganization | null> {
  const found = await findUserMembership(db, userId, organizationId);
  return found?.organizationStatus === 'active'
    ? { id: organizationId, membershipId: found.membershipId, roles: found.roleNames }
    : null;
}
