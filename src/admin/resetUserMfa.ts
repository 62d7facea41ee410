import type { FactorPresence } from '../auth/createFactorPresenceCache.ts';
import { markSessionsRevoked, type RevocationDeps } from '../sessions/updateSessionCache.ts';
import { deleteSecondFactors, type RemovedSecondFactors } from '../storage/secondFactors.ts';
import { revokeSessions } from '../storage/sessions.ts';
import { getUserById } from '../storage/users.ts';
import type { AuditScope } from './AuditScope.ts';
import { requireUserId } from './requireUserId.ts';

/** What ResetUserMfa did. */
export interface MfaReset extends RemovedSecondFactors {
  revokedCount: number;
}

/**
 * Removes every second factor of a user who lost them (TOTP, recovery codes, passkeys) and
 * revokes their live sessions, in one transaction with the call's audit event; the account then
 * signs in with its password alone (and under MFA_REQUIRED_ROLES must enrol again). Nothing
 * else about the account changes.
 */
export async function resetUserMfa(
  deps: RevocationDeps & { mfa: { factors: FactorPresence } },
  audit: AuditScope,
  userId: string,
): Promise<MfaReset> {
  const id = requireUserId(userId);
  const { removed, revoked } = await audit.transaction(async (tx) => {
    await getUserById(tx, id);
    const removed = await deleteSecondFactors(tx, id);
    const revoked = await revokeSessions(tx, { userId: id }, 'admin_revoke');
    audit.note({
      details: {
        totp_removed: removed.totp,
        recovery_codes_removed: removed.recoveryCodes,
        passkeys_removed: removed.passkeys,
        revoked_count: revoked.length,
      },
    });
    return { removed, revoked };
  });
  deps.mfa.factors.forget(id);
  await markSessionsRevoked(deps, revoked, 'admin_revoke');
  return { ...removed, revokedCount: revoked.length };
}
