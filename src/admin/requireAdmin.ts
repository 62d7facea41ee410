import type { Principal } from '../auth/Principal.ts';
import { AppError } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import type { Db } from '../storage/Db.ts';
import { findUserById } from '../storage/users.ts';

/**
 * Refuses (PERMISSION_DENIED, ADMIN_ROLE_REQUIRED) a caller whose user does not hold the
 * `admin` role right now. Reads PostgreSQL rather than the principal's cached roles: one
 * primary-key lookup per admin call buys a demotion (or a promotion by the CLI, or by SQL)
 * that takes effect on the very next call, with no cache to go stale.
 */
export async function requireAdmin(db: Db, principal: Principal): Promise<void> {
  const user = (await findUserById(db, principal.userId))?.user;
  if (user === undefined || user.status !== 'active') {
    throw invalidAccessToken();
  }
  if (!user.roles.includes('admin')) {
    throw new AppError('ADMIN_ROLE_REQUIRED', 'this call needs the admin role');
  }
}
