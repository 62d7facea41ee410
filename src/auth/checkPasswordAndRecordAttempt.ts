import type { AuditActionName } from '../domain/AuditEvent.ts';
import type { User, UserAccount } from '../domain/User.ts';
import { recordAudit } from '../storage/audit.ts';
import type { Db } from '../storage/Db.ts';
import { beginPasswordAttempt, lockUserIfThresholdReached } from '../storage/users.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';

/** What checking a password needs: the attempt counter's table, the hasher, the lockout rule. */
export type PasswordCheckDeps = Pick<AuthDeps, 'pool' | 'hasher' | 'lockout'>;

/** What recording a failed check needs: the lockout rule, its metric and its log line. */
export type PasswordFailureDeps = Pick<AuthDeps, 'lockout' | 'events' | 'log'>;

export type PasswordCheck =
  | { ok: true; upgradedHash: string | null }
  | {
      ok: false;
      reason: 'unknown_account' | 'no_password' | 'wrong_password' | 'locked' | 'account_inactive';
    };

/** Why a check failed; a wrong second factor counts toward the lockout like a wrong password. */
export type CredentialFailure =
  | Extract<PasswordCheck, { ok: false }>['reason']
  | 'wrong_second_factor';

/**
 * Checks a password for `account` (or burns the same argon2 time when there is no such user or
 * password), and writes the attempt to PostgreSQL first: it is counted atomically before the
 * check, so N parallel wrong guesses never get more than `lockout.threshold` argon2 checks;
 * locked accounts are refused without one. A correct password under outdated parameters comes
 * back with its new hash, for the caller to store with the successful login.
 */
export async function checkPasswordAndRecordAttempt(
  deps: PasswordCheckDeps,
  account: UserAccount | null,
  password: string,
): Promise<PasswordCheck> {
  if (!account?.passwordHash) {
    await deps.hasher.dummyVerify(password);
    return { ok: false, reason: account ? 'no_password' : 'unknown_account' };
  }
  if (!(await beginPasswordAttempt(deps.pool, account.user.id, deps.lockout.threshold))) {
    await deps.hasher.dummyVerify(password);
    return { ok: false, reason: 'locked' };
  }
  const result = await deps.hasher.verify(account.passwordHash, password);
  if (!result.ok) return { ok: false, reason: 'wrong_password' };
  return { ok: true, upgradedHash: result.needsRehash ? await deps.hasher.hash(password) : null };
}

/**
 * Records a failed check in the caller's transaction: audit row (with `details` besides the
 * reason), and the lockout if reached.
 */
export async function recordPasswordFailure(
  tx: Db,
  deps: PasswordFailureDeps,
  user: User | null,
  check: { ok: false; reason: CredentialFailure },
  action: AuditActionName,
  info: RequestInfo,
  details: Record<string, string | number | boolean | null> = {},
): Promise<void> {
  await recordAudit(tx, action, {
    subject: user?.id ?? null,
    outcome: 'failure',
    request: info,
    details: { ...details, reason: check.reason },
  });
  if (!user || (check.reason !== 'wrong_password' && check.reason !== 'wrong_second_factor')) {
    return;
  }
  const lockedUntil = await lockUserIfThresholdReached(tx, user.id, deps.lockout);
  if (lockedUntil) {
    deps.events.lockout();
    deps.log.warn({ userId: user.id, lockedUntil }, 'account locked after repeated failures');
    await recordAudit(tx, 'account_lock', {
      subject: user.id,
      request: info,
      details: { locked_until: lockedUntil.toISOString() },
    });
  }
}
