import type { Db } from '../storage/Db.ts';
import { findUserOrganizations, type UserOrganization } from '../storage/userMemberships.ts';

/** Most memberships ListMyOrganizations returns; a user has few, so the list is not paged. */
export const MAX_MY_ORGANIZATIONS = 200;

/**
 * The user's memberships in active organisations, by slug, at most MAX_MY_ORGANIZATIONS;
 * `truncated` says there were more.
 */
export async function listMyOrganizations(
  db: Db,
  userId: string,
): Promise<{ organizations: UserOrganization[]; truncated: boolean }> {
  const rows = await findUserOrganizations(db, userId, MAX_MY_ORGANIZATIONS + 1);
  return {
    organizations: rows.slice(0, MAX_MY_ORGANIZATIONS),
    truncated: rows.length > MAX_MY_ORGANIZATIONS,
  };
}
