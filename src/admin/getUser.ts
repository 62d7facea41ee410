import { type ManagedUser, toManagedUser } from '../domain/User.ts';
import { getUserById } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import { requireUserId } from './requireUserId.ts';

/** One live user; USER_NOT_FOUND when there is none or it is deleted. */
export async function getUser(
  deps: Pick<AdminDeps, 'pool' | 'hasher'>,
  userId: string,
): Promise<ManagedUser> {
  return toManagedUser(await getUserById(deps.pool, requireUserId(userId)), deps.hasher);
}
