import type { RevocationReason } from '../domain/Session.ts';
import type { User } from '../domain/User.ts';
import type { Db } from '../storage/Db.ts';
import { revokeOneTimeTokens } from '../storage/oneTimeTokens.ts';
import { revokeSessions } from '../storage/sessions.ts';
import { updateUserPassword } from '../storage/users.ts';

/**
 * What a new password does to an account, inside the caller's transaction, whoever sets it (a
 * reset by mail or by an operator, or ChangePassword): the new hash (clearing the lockout),
 * every outstanding password-reset token voided (a link mailed before must not undo the new
 * password), every session ended, for `reason`. Returns the updated user and the ids of the
 * sessions it ended.
 */
export async function replacePassword(
  tx: Db,
  userId: string,
  passwordHash: string,
  reason: Extract<RevocationReason, 'password_reset' | 'password_change'> = 'password_reset',
): Promise<{ user: User; revokedSessionIds: string[] }> {
  const user = await updateUserPassword(tx, userId, passwordHash);
  await revokeOneTimeTokens(tx, userId, 'password_reset');
  const revokedSessionIds = await revokeSessions(tx, { userId }, reason);
  return { user, revokedSessionIds };
}
