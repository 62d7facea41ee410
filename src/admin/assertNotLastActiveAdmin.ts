import type { User } from '../domain/User.ts';
import { AppError } from '../errors/AppError.ts';
import type { Db } from '../storage/Db.ts';
import { countActiveAdmins } from '../storage/users.ts';

/**
 * FAILED_PRECONDITION (LAST_ACTIVE_ADMIN) when `user` is an active admin and no other active
 * admin exists. Race-safe only after `lockAdminMembership(tx)` as the first statement of the
 * transaction, before `user` was read (FOR UPDATE): concurrent demotions, disables and deletes
 * then run one after another, and each counts what the previous one left.
 */
export async function assertNotLastActiveAdmin(tx: Db, user: User): Promise<void> {
  if (user.status !== 'active' || !user.roles.includes('admin')) return;
  if ((await countActiveAdmins(tx, user.id)) === 0) {
    throw new AppError(
      'LAST_ACTIVE_ADMIN',
      'this would leave no active admin; give another active user the admin role first',
    );
  }
}
