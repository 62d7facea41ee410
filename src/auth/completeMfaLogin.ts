import type { AuthMethodReference, MfaMethodName } from '../domain/SecondFactor.ts';
import type { User } from '../domain/User.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { recordAudit } from '../storage/audit.ts';
import {
  consumeMfaChallenge,
  findMfaChallengeByTokenHash,
  recordMfaChallengeFailure,
} from '../storage/mfaChallenges.ts';
import { countUnusedRecoveryCodes } from '../storage/recoveryCodes.ts';
import { findTotpFactorByUserId } from '../storage/totpFactors.ts';
import {
  beginPasswordAttempt,
  findUserById,
  releasePasswordAttempt,
  updateUserLoginSucceeded,
} from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { requireActiveMembership } from './activeOrganization.ts';
import {
  type PasswordFailureDeps,
  recordPasswordFailure,
} from './checkPasswordAndRecordAttempt.ts';
import {
  checkSecondFactor,
  requireSecondFactorProof,
  type SecondFactorFailure,
  type SecondFactorProof,
} from './checkSecondFactor.ts';
import { type IssuedTokens, type IssueSessionDeps, issueSession } from './issueSession.ts';
import {
  hashMfaChallengeToken,
  isMfaChallengeTokenShaped,
  MFA_CHALLENGE_MAX_FAILURES,
} from './mfaChallenge.ts';
import { checkPasskeyProof, type PasskeyProof, type PasskeyProofFailure } from './passkeyLogin.ts';
import { parseAuthenticationResponse } from './webauthn.ts';

type CompleteMfaLoginDeps = PasswordFailureDeps &
  IssueSessionDeps &
  Pick<AuthDeps, 'pool' | 'mfa' | 'lockout' | 'webauthn'>;

export interface CompleteMfaLoginInput {
  challengeToken: string;
  factor:
    | { $case: 'totpCode'; value: string }
    | { $case: 'recoveryCode'; value: string }
    | { $case: 'passkeyResponseJson'; value: string }
    | undefined;
}

/** The proof CompleteMfaLogin accepts: a TOTP or recovery code, or a passkey assertion. */
type MfaLoginProof = SecondFactorProof | { method: 'passkey'; passkey: PasskeyProof };

function requireMfaLoginProof(factor: CompleteMfaLoginInput['factor']): MfaLoginProof {
  if (factor?.$case === 'passkeyResponseJson') {
    return {
      method: 'passkey',
      passkey: parseAuthenticationResponse('passkey_response_json', factor.value),
    };
  }
  return requireSecondFactorProof(factor);
}

/** RFC 8176 references of a session opened by a password and this second factor. */
const AMR: Record<Exclude<MfaMethodName, 'passkey'>, readonly AuthMethodReference[]> = {
  totp: ['pwd', 'otp', 'mfa'],
  recovery_code: ['pwd', 'mfa'],
};

function challengeInvalid(): AppError {
  return new AppError(
    'MFA_CHALLENGE_INVALID',
    'the sign-in challenge is not valid (unknown, used, expired or from another address); sign in again',
  );
}

function codeRejected(): AppError {
  return new AppError('MFA_CODE_REJECTED', 'the code is not valid');
}

/**
 * CompleteMfaLogin: the second step of a Login that answered mfa_required. The challenge must be
 * live and presented from the Login's address; a challenge presented from elsewhere dies. Every
 * call spends the Login identifier's account budget, and every code check counts as an attempt
 * of the account's lockout (beginPasswordAttempt, before the check): a wrong code is a failure
 * like a wrong password, a locked account's codes are refused unchecked. A correct code uses the
 * challenge and the code up and opens the session in one transaction with its audit rows.
 */
export async function completeMfaLogin(
  deps: CompleteMfaLoginDeps,
  input: CompleteMfaLoginInput,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<{ user: User; tokens: IssuedTokens }> {
  if (input.challengeToken === '' || input.challengeToken.length > 128) {
    throw invalidArgument([
      {
        field: 'challenge_token',
        description: 'the challenge_token of LoginResponse.mfa_required is required',
      },
    ]);
  }
  const proof = requireMfaLoginProof(input.factor);
  const refuse = async (
    reason: string,
    userId: string | null,
    details: Record<string, string | null> = {},
  ): Promise<never> => {
    await recordAudit(deps.pool, 'mfa_verify', {
      subject: userId,
      outcome: 'failure',
      request: info,
      details: { ...details, method: proof.method, reason },
    });
    deps.events.login('failure');
    throw challengeInvalid();
  };

  if (!isMfaChallengeTokenShaped(input.challengeToken)) return refuse('unknown_challenge', null);
  const tokenHash = hashMfaChallengeToken(input.challengeToken);
  const challenge = await findMfaChallengeByTokenHash(deps.pool, tokenHash);
  if (challenge === null) return refuse('unknown_challenge', null);
  await admitAccount(challenge.identifier);
  const about = { challenge_id: challenge.id };
  if (!challenge.live) return refuse('challenge_not_live', challenge.userId, about);
  if (challenge.ipAddress !== info.clientIp) {
    // A challenge token presented from elsewhere was copied: it is of no more use to anyone.
    await consumeMfaChallenge(deps.pool, challenge.id);
    return refuse('other_source', challenge.userId, about);
  }

  const failed = async (
    user: User,
    reason: SecondFactorFailure | PasskeyProofFailure | 'locked',
  ): Promise<never> => {
    await deps.pool.transaction(async (tx) => {
      await recordMfaChallengeFailure(tx, challenge.id, MFA_CHALLENGE_MAX_FAILURES);
      await recordPasswordFailure(
        tx,
        deps,
        user,
        { ok: false, reason: reason === 'locked' ? 'locked' : 'wrong_second_factor' },
        'mfa_verify',
        info,
        { ...about, method: proof.method, code_failure: reason },
      );
    });
    deps.events.login('failure');
    throw codeRejected();
  };

  const outcome = await deps.pool.transaction(async (tx) => {
    const current = await findMfaChallengeByTokenHash(tx, tokenHash, true);
    if (current === null || !current.live) return { kind: 'invalid' as const };
    const user = (await findUserById(tx, challenge.userId))?.user;
    if (user?.status !== 'active') return { kind: 'invalid' as const };
    // Counted before the check, like a password: parallel guesses never exceed the threshold.
    if (!(await beginPasswordAttempt(tx, user.id, deps.lockout.threshold))) {
      return { kind: 'rejected' as const, user, reason: 'locked' as const };
    }
    let check: { method: MfaMethodName; amr: readonly AuthMethodReference[] };
    if (proof.method === 'passkey') {
      const passkey = await checkPasskeyProof(tx, deps, challenge, proof.passkey, info);
      if (!passkey.ok) return { kind: 'rejected' as const, user, reason: passkey.reason };
      check = { method: 'passkey', amr: passkey.amr };
    } else {
      const factor = await findTotpFactorByUserId(tx, user.id, true);
      if (factor === null || factor.confirmedAt === null) {
        await releasePasswordAttempt(tx, user.id);
        return { kind: 'invalid' as const };
      }
      const code = await checkSecondFactor(tx, deps, factor, proof);
      if (!code.ok) return { kind: 'rejected' as const, user, reason: code.reason };
      const method = code.method === 'recovery_code' ? 'recovery_code' : 'totp';
      check = { method, amr: AMR[method] };
    }
    await consumeMfaChallenge(tx, challenge.id);
    const organization =
      challenge.organizationId === null
        ? null
        : await requireActiveMembership(tx, user.id, challenge.organizationId);
    const updated = await updateUserLoginSucceeded(tx, user.id, null);
    const { session, tokens } = await issueSession(
      tx,
      deps,
      updated,
      info,
      organization,
      check.amr,
    );
    await recordAudit(tx, 'mfa_verify', {
      actor: user.id,
      request: info,
      details: { ...about, method: check.method, session_id: session.id },
    });
    if (check.method === 'recovery_code') {
      await recordAudit(tx, 'recovery_code_use', {
        actor: user.id,
        request: info,
        details: { ...about, remaining: await countUnusedRecoveryCodes(tx, user.id) },
      });
    }
    await recordAudit(tx, 'login', {
      actor: user.id,
      request: info,
      details: {
        session_id: session.id,
        password_rehashed: false,
        organization_id: organization?.id ?? null,
        second_factor: check.method,
      },
    });
    return { kind: 'ok' as const, user: updated, tokens };
  });
  if (outcome.kind === 'invalid') return refuse('challenge_not_live', challenge.userId, about);
  if (outcome.kind === 'rejected') {
    // The attempt beginPasswordAttempt counted stays counted (the failure); commit it apart
    // from the check's transaction, which is over.
    return failed(outcome.user, outcome.reason);
  }
  deps.events.login('success');
  return { user: outcome.user, tokens: outcome.tokens };
}
