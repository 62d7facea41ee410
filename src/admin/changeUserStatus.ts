import type { UserAccount, UserStatus } from '../domain/User.ts';
import {
  forgetCachedSessions,
  markSessionsRevoked,
  type RevocationDeps,
} from '../sessions/updateSessionCache.ts';
import { revokeOneTimeTokens } from '../storage/oneTimeTokens.ts';
import { findLiveSessionIdsByUser, revokeSessions } from '../storage/sessions.ts';
import { getUserById, lockAdminMembership, updateUserStatus } from '../storage/users.ts';
import type { AuditScope } from './AuditScope.ts';
import { assertNotLastActiveAdmin } from './assertNotLastActiveAdmin.ts';
import { requireUserId } from './requireUserId.ts';

// Why a status change ends sessions, as recorded on them and in the revocation metric.
const REVOKE_REASON = { disabled: 'admin_disable', deleted: 'admin_delete' } as const;

/**
 * What DisableUser, EnableUser and DeleteUser share: in one audited transaction, set the
 * user's status to `target` (skipped when it already has it, so the call is idempotent).
 * Leaving 'active' is serialised on the admin membership lock and never removes the last
 * active admin; it revokes every session (deletion also every unused one-time token), and the
 * revocations are published after the commit. Enabling drops the cached state of the user's
 * unrevoked sessions after the commit, so their "not live" answers go. Returns the account as
 * it is afterwards.
 */
export async function changeUserStatus(
  deps: RevocationDeps,
  audit: AuditScope,
  userId: string,
  target: UserStatus,
): Promise<UserAccount> {
  const id = requireUserId(userId);
  const reason = target === 'active' ? null : REVOKE_REASON[target];
  const { account, revoked, liveSessionIds } = await audit.transaction(async (tx) => {
    if (reason !== null) await lockAdminMembership(tx);
    const before = await getUserById(tx, id, { forUpdate: true });
    if (reason !== null) await assertNotLastActiveAdmin(tx, before.user);
    const changed = before.user.status !== target;
    const account = changed ? await updateUserStatus(tx, id, target) : before;
    const revoked = reason === null ? [] : await revokeSessions(tx, { userId: id }, reason);
    if (target === 'deleted') await revokeOneTimeTokens(tx, id);
    audit.note({
      details: {
        previous_status: before.user.status,
        ...(reason === null ? {} : { revoked_sessions: revoked.length }),
      },
    });
    const liveSessionIds =
      target === 'active' && changed ? await findLiveSessionIdsByUser(tx, id) : [];
    return { account, revoked, liveSessionIds };
  });
  if (reason !== null) await markSessionsRevoked(deps, revoked, reason);
  await forgetCachedSessions(deps, liveSessionIds);
  return account;
}
