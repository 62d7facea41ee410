import { AppError, type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { markSessionsRevoked, type RevocationDeps } from '../sessions/updateSessionCache.ts';
import { recordAudit } from '../storage/audit.ts';
import { consumeOneTimeToken, findUsableOneTimeToken } from '../storage/oneTimeTokens.ts';
import { markEmailVerified } from '../storage/users.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { hashOneTimeToken, isOneTimeTokenShaped } from './oneTimeToken.ts';
import { replacePassword } from './replacePassword.ts';

/** The one answer for an unknown, malformed, expired, used, superseded or re-addressed token. */
function invalidResetToken(): AppError {
  return new AppError('INVALID_RESET_TOKEN', 'the password reset token is invalid or expired', {
    fieldViolations: [
      { field: 'token', description: 'invalid or expired; request a new one', reason: 'INVALID' },
    ],
  });
}

/**
 * Sets a new password with a token from RequestPasswordReset. The token is checked twice: before
 * the (slow) hashing, to run the password policy with the account's email and username, and
 * then under a row lock in the transaction that uses it up, so two concurrent calls with one
 * token cannot both succeed. On success: password replaced, failure counters and lockout
 * cleared, address marked verified (the token proved control of it), other reset tokens
 * revoked, every session revoked (published after the commit), audited.
 */
export async function resetPassword(
  deps: RevocationDeps & Pick<AuthDeps, 'pool' | 'policy' | 'hasher'>,
  input: { token: string; newPassword: string },
  info: RequestInfo,
): Promise<void> {
  const violations: FieldViolation[] = [];
  if (input.token === '') {
    violations.push({
      field: 'token',
      description: 'a reset token is required',
      reason: 'REQUIRED',
    });
  }
  violations.push(...deps.policy.check(input.newPassword, {}, 'new_password'));
  if (violations.length > 0) throw invalidArgument(violations);
  if (!isOneTimeTokenShaped(input.token, 'password_reset')) throw invalidResetToken();

  const tokenHash = hashOneTimeToken(input.token);
  const found = await findUsableOneTimeToken(deps.pool, 'password_reset', tokenHash);
  if (found === null) throw invalidResetToken();
  const policy = deps.policy.check(
    input.newPassword,
    { email: found.emailNormalized, ...(found.username ? { username: found.username } : {}) },
    'new_password',
  );
  if (policy.length > 0) throw invalidArgument(policy);
  const passwordHash = await deps.hasher.hash(input.newPassword);

  const revoked = await deps.pool.transaction(async (tx) => {
    const token = await consumeOneTimeToken(tx, 'password_reset', tokenHash);
    if (token === null || token.userId !== found.userId) throw invalidResetToken();
    const { revokedSessionIds: sessions } = await replacePassword(tx, token.userId, passwordHash);
    await markEmailVerified(tx, token.userId, token.emailNormalized);
    await recordAudit(tx, 'password_reset', {
      actor: token.userId,
      request: info,
      details: { revoked_sessions: sessions.length },
    });
    return sessions;
  });
  await markSessionsRevoked(deps, revoked, 'password_reset');
}
