import type { RequestInfo } from '../auth/AuthDeps.ts';
import { isViolation, normalizeEmail } from '../auth/normalize.ts';
import { replacePassword } from '../auth/replacePassword.ts';
import type { User } from '../domain/User.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { recordAudit } from '../storage/audit.ts';
import { findUserByIdentifier } from '../storage/users.ts';
import { type BootstrapDeps, generatePassword } from './createOrPromoteAdmin.ts';

export interface OperatorResetResult {
  user: User;
  /** The generated password: show it once, it is stored nowhere else. */
  generatedPassword: string | null;
  /** Sessions ended by the reset, to publish to session caches. */
  revokedSessionIds: string[];
}

/**
 * The way back in for someone with access to the database (the admin CLI), e.g. when the
 * first-start admin password was lost: sets a new password (given, or generated and returned
 * once) on the live account with this email, like a completed password reset: lockout cleared,
 * pending reset tokens voided, every session ended, audited as `password_reset` (source cli).
 */
export async function resetPasswordByOperator(
  deps: BootstrapDeps,
  input: { email: string; password?: string | undefined; source: string },
  info: RequestInfo,
): Promise<OperatorResetResult> {
  const email = normalizeEmail(input.email);
  if (isViolation(email)) throw invalidArgument([email]);
  const found = (await findUserByIdentifier(deps.pool, email.normalized))?.user ?? null;
  if (found === null) {
    throw new AppError('USER_NOT_FOUND', `there is no account with the email ${email.display}`);
  }
  const context = {
    email: found.emailNormalized,
    ...(found.username ? { username: found.username } : {}),
  };
  let generatedPassword: string | null = null;
  if (input.password !== undefined) {
    const problems = deps.policy.check(input.password, context);
    if (problems.length > 0) throw invalidArgument(problems);
  } else {
    generatedPassword = generatePassword(deps.policy, found.emailNormalized);
  }
  const passwordHash = await deps.hasher.hash(input.password ?? generatedPassword ?? '');

  return deps.pool.transaction(async (tx) => {
    const { user, revokedSessionIds } = await replacePassword(tx, found.id, passwordHash);
    await recordAudit(tx, 'password_reset', {
      subject: found.id,
      request: info,
      details: { source: input.source, revoked_sessions: revokedSessionIds.length },
    });
    return { user, generatedPassword, revokedSessionIds };
  });
}
