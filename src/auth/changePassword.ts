import { AppError, type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { markSessionsRevoked, type RevocationDeps } from '../sessions/updateSessionCache.ts';
import { recordAudit } from '../storage/audit.ts';
import { findSessionById } from '../storage/sessions.ts';
import { findUserById } from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { findActiveMembership } from './activeOrganization.ts';
import {
  checkPasswordAndRecordAttempt,
  type PasswordCheckDeps,
  type PasswordFailureDeps,
  recordPasswordFailure,
} from './checkPasswordAndRecordAttempt.ts';
import { type IssuedTokens, type IssueSessionDeps, issueSession } from './issueSession.ts';
import type { UserPrincipal } from './Principal.ts';
import { replacePassword } from './replacePassword.ts';

type ChangePasswordDeps = PasswordCheckDeps &
  PasswordFailureDeps &
  IssueSessionDeps &
  RevocationDeps &
  Pick<AuthDeps, 'pool' | 'passwordMaxLength' | 'policy' | 'hasher'>;

/**
 * Changes the caller's password after re-checking the current one, ends every session of the
 * account (including the calling one), voids outstanding password-reset links, and returns
 * tokens of a fresh session, which acts in the calling session's organisation if the user is
 * still a member of it and it is active.
 */
export async function changePassword(
  deps: ChangePasswordDeps,
  principal: UserPrincipal,
  input: { currentPassword: string; newPassword: string },
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<IssuedTokens> {
  const violations: FieldViolation[] = [];
  if (input.currentPassword === '' || input.currentPassword.length > deps.passwordMaxLength * 4) {
    violations.push({ field: 'current_password', description: 'the current password is required' });
  }
  const account = await findUserById(deps.pool, principal.userId);
  const user = account?.user;
  if (account === null || user?.status !== 'active') {
    throw invalidAccessToken();
  }
  violations.push(
    ...deps.policy.check(
      input.newPassword,
      { email: user.emailNormalized, ...(user.username ? { username: user.username } : {}) },
      'new_password',
    ),
  );
  if (violations.length > 0) throw invalidArgument(violations);

  await admitAccount(user.id);
  const check = await checkPasswordAndRecordAttempt(deps, account, input.currentPassword);
  if (!check.ok) {
    await deps.pool.transaction((tx) =>
      recordPasswordFailure(tx, deps, user, check, 'password_change', info),
    );
    throw new AppError('INVALID_CURRENT_PASSWORD', 'the current password is not correct', {
      fieldViolations: [
        { field: 'current_password', description: 'does not match', reason: 'MISMATCH' },
      ],
    });
  }
  const hash = await deps.hasher.hash(input.newPassword);
  const { tokens, revoked } = await deps.pool.transaction(async (tx) => {
    const calling = (await findSessionById(tx, principal.sessionId))?.organizationId ?? null;
    const organization = calling === null ? null : await findActiveMembership(tx, user.id, calling);
    const { user: updated, revokedSessionIds: revoked } = await replacePassword(
      tx,
      user.id,
      hash,
      'password_change',
    );
    const issued = await issueSession(tx, deps, updated, info, organization);
    await recordAudit(tx, 'password_change', {
      actor: user.id,
      request: info,
      details: {
        revoked_sessions: revoked.length,
        session_id: issued.session.id,
        organization_id: organization?.id ?? null,
      },
    });
    return { tokens: issued.tokens, revoked };
  });
  await markSessionsRevoked(deps, revoked, 'password_change');
  return tokens;
}
