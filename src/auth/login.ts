import type { MfaMethodName } from '../domain/SecondFactor.ts';
import type { User } from '../domain/User.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { recordAudit } from '../storage/audit.ts';
import { findConfirmedSecondFactors } from '../storage/secondFactors.ts';
import { findUserByIdentifier, updateUserLoginSucceeded } from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { requireActiveMembership } from './activeOrganization.ts';
import {
  checkPasswordAndRecordAttempt,
  type PasswordCheckDeps,
  type PasswordFailureDeps,
  recordPasswordFailure,
} from './checkPasswordAndRecordAttempt.ts';
import { type IssuedTokens, type IssueSessionDeps, issueSession } from './issueSession.ts';
import { openMfaChallenge } from './mfaChallenge.ts';
import { isUuid, normalizeIdentifier } from './normalize.ts';

type LoginDeps = PasswordCheckDeps &
  PasswordFailureDeps &
  IssueSessionDeps &
  Pick<AuthDeps, 'pool' | 'passwordMaxLength' | 'requireVerifiedEmail' | 'events'>;

export interface LoginInput {
  identifier: string;
  password: string;
  /** The organisation the session is to act in; '' or undefined for none. */
  organizationId?: string | undefined;
}

/** What Login answers: a session, or the second step an account with a factor needs. */
export type LoginResult =
  | { kind: 'session'; user: User; tokens: IssuedTokens }
  | {
      kind: 'mfa_required';
      challengeToken: string;
      methods: MfaMethodName[];
      expiresAt: Date;
    };

/** The one answer for unknown user, wrong password, disabled or locked account. */
function invalidCredentials(): AppError {
  return new AppError('INVALID_CREDENTIALS', 'invalid credentials');
}

/**
 * Signs in by email or username. Every failure (unknown account, wrong password, disabled,
 * locked) is indistinguishable: the same error and the same argon2 work. With an organisation,
 * only after the password is accepted is membership checked (NOT_A_MEMBER,
 * ORGANIZATION_DISABLED), so those answers reveal nothing to someone without the password; no
 * session is opened then, and the refusal is audited. An account with a confirmed second factor
 * (a confirmed TOTP authenticator or a passkey) gets, after the correct password (and the
 * membership check), a challenge instead of a session
 * (openMfaChallenge; CompleteMfaLogin is the second step).
 */
export async function login(
  deps: LoginDeps,
  input: LoginInput,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<LoginResult> {
  const identifier = normalizeIdentifier(input.identifier);
  const violations = [];
  if (identifier === '' || identifier.length > 320) {
    violations.push({
      field: 'identifier',
      description: 'an email address or username is required',
    });
  }
  if (input.password === '' || input.password.length > deps.passwordMaxLength * 4) {
    violations.push({ field: 'password', description: 'a password is required' });
  }
  const organizationId = input.organizationId ?? '';
  if (organizationId !== '' && !isUuid(organizationId)) {
    violations.push({
      field: 'organization_id',
      description: 'must be an organisation id (a UUID) or empty',
      reason: 'INVALID_FORMAT',
    });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  await admitAccount(identifier);

  const account = await findUserByIdentifier(deps.pool, identifier);
  const user = account?.user ?? null;
  // REQUIRE_VERIFIED_EMAIL: an unverified account is not active. Its password is not checked
  // (the same argon2 work is burnt), so guessing it reveals nothing and counts no failure.
  const unverified = deps.requireVerifiedEmail && user !== null && !user.emailVerified;
  const check = await checkPasswordAndRecordAttempt(
    deps,
    unverified ? null : account,
    input.password,
  );
  if (!check.ok || user?.status !== 'active') {
    await deps.pool.transaction((tx) =>
      recordPasswordFailure(
        tx,
        deps,
        user,
        check.ok || unverified ? { ok: false, reason: 'account_inactive' } : check,
        'login',
        info,
      ),
    );
    deps.events.login('failure');
    throw invalidCredentials();
  }
  const upgradedHash = check.upgradedHash;

  let result: LoginResult;
  try {
    result = await deps.pool.transaction(async (tx): Promise<LoginResult> => {
      const organization =
        organizationId === '' ? null : await requireActiveMembership(tx, user.id, organizationId);
      // A confirmed TOTP authenticator or any passkey is a second factor.
      const { totp, passkey } = await findConfirmedSecondFactors(tx, user.id);
      if (totp || passkey) {
        return openMfaChallenge(
          tx,
          user,
          identifier,
          organization?.id ?? null,
          upgradedHash,
          info,
          {
            totp,
            passkey,
          },
        );
      }
      const updated = await updateUserLoginSucceeded(tx, user.id, upgradedHash);
      const { session, tokens } = await issueSession(tx, deps, updated, info, organization);
      await recordAudit(tx, 'login', {
        actor: user.id,
        request: info,
        details: {
          session_id: session.id,
          password_rehashed: upgradedHash !== null,
          organization_id: organization?.id ?? null,
        },
      });
      return { kind: 'session', user: updated, tokens };
    });
  } catch (error) {
    if (
      error instanceof AppError &&
      (error.reason === 'NOT_A_MEMBER' || error.reason === 'ORGANIZATION_DISABLED')
    ) {
      await recordAudit(deps.pool, 'login', {
        actor: user.id,
        outcome: 'denied',
        request: info,
        details: { organization_id: organizationId, reason: error.reason.toLowerCase() },
      });
    }
    throw error;
  }
  if (result.kind === 'mfa_required') return result;
  deps.events.login('success');
  return result;
}
