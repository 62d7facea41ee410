import type { User } from '../domain/User.ts';
import type { Db } from '../storage/Db.ts';
import { revokeOneTimeTokens } from '../storage/oneTimeTokens.ts';
import { revokeSessions } from '../storage/sessions.ts';
import { updateUserPassword } from '../storage/users.ts';

/**
 * What a password reset does to an account, inside the caller's transaction: the new hash
 * (clearing the lockout), every outstanding password-reset token voided, every session ended. Returns the updated user and the ids of the sessions it ended.
 */
export async function replacePassword(
  tx: Db,
  userId: string,
  passwordHash: string,
): Promise<{ user: User; revokedSessionIds: string[] }> {
  const user = await updateUserPassword(tx, userId, passwordHash);
  await revokeOneTimeTokens(tx, userId, 'password_reset');
  const revokedSessionIds = await revokeSessions(tx, { userId }, 'password_reset');
  return { user, revokedSessionIds };
}
