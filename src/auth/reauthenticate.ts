import type { AuthMethodReference } from '../domain/SecondFactor.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { recordAudit } from '../storage/audit.ts';
import { countUnusedRecoveryCodes } from '../storage/recoveryCodes.ts';
import { findConfirmedSecondFactors } from '../storage/secondFactors.ts';
import { findSessionById, updateSessionAuthentication } from '../storage/sessions.ts';
import { findTotpFactorByUserId } from '../storage/totpFactors.ts';
import { findUserById, updateUserLoginSucceeded } from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { findActiveMembership } from './activeOrganization.ts';
import {
  type CredentialFailure,
  checkPasswordAndRecordAttempt,
  type PasswordCheckDeps,
  type PasswordFailureDeps,
  recordPasswordFailure,
} from './checkPasswordAndRecordAttempt.ts';
import {
  checkSecondFactor,
  proofField,
  requireSecondFactorProof,
  type SecondFactorProof,
} from './checkSecondFactor.ts';
import { type IssuedAccessToken, type IssueTokensDeps, issueAccessToken } from './issueSession.ts';
import type { UserPrincipal } from './Principal.ts';
import { checkReauthenticationPasskeyProof, type PasskeyProof } from './passkeyLogin.ts';
import { parseAuthenticationResponse } from './webauthn.ts';

type ReauthenticateDeps = PasswordCheckDeps &
  PasswordFailureDeps &
  IssueTokensDeps &
  Pick<AuthDeps, 'pool' | 'passwordMaxLength' | 'mfa' | 'webauthn'>;

export interface ReauthenticateInput {
  password: string;
  factor:
    | { $case: 'totpCode'; value: string }
    | { $case: 'recoveryCode'; value: string }
    | { $case: 'passkeyResponseJson'; value: string }
    | undefined;
}

/** The second factor Reauthenticate accepts: a TOTP or recovery code, or a passkey assertion. */
type ReauthenticationProof = SecondFactorProof | { method: 'passkey'; passkey: PasskeyProof };

/** The request's proof, checked for shape before any lookup; INVALID_ARGUMENT otherwise. */
function requireProof(factor: NonNullable<ReauthenticateInput['factor']>): ReauthenticationProof {
  if (factor.$case === 'passkeyResponseJson') {
    return {
      method: 'passkey',
      passkey: parseAuthenticationResponse('passkey_response_json', factor.value),
    };
  }
  return requireSecondFactorProof(factor);
}

/** The request field a proof came in, for field violations. */
function fieldOf(proof: ReauthenticationProof): string {
  return proof.method === 'passkey' ? 'passkey_response_json' : proofField(proof);
}

/** What Reauthenticate answers: a fresh access token of the session, and how it is proven now. */
export interface Reauthenticated extends IssuedAccessToken {
  amr: readonly AuthMethodReference[];
  authTime: Date;
}

const AMR = {
  password: ['pwd'],
  totp: ['pwd', 'otp', 'mfa'],
  recovery_code: ['pwd', 'mfa'],
} as const satisfies Record<string, readonly AuthMethodReference[]>;

/** The one answer for a wrong password, a wrong or used code, and a locked account. */
function reauthenticationFailed(): AppError {
  return new AppError(
    'REAUTHENTICATION_FAILED',
    'the password or the code is not correct, or the account is locked for now',
  );
}

/**
 * Reauthenticate: proves the calling session's user again (the password, and a second factor
 * when the account has any: a confirmed TOTP authenticator or a passkey), then moves the session's `auth_time` to now with the new `amr` and
 * returns a fresh access token. The attempt is counted toward the lockout before the password
 * is checked (checkPasswordAndRecordAttempt), a wrong code counts as a failure like a wrong
 * password, and a success clears the count like a Login. Audited (reauthenticate, success or
 * failure; recovery_code_use for a recovery code).
 */
export async function reauthenticate(
  deps: ReauthenticateDeps,
  principal: UserPrincipal,
  input: ReauthenticateInput,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<Reauthenticated> {
  if (input.password === '' || input.password.length > deps.passwordMaxLength * 4) {
    throw invalidArgument([{ field: 'password', description: 'the password is required' }]);
  }
  const proof = input.factor === undefined ? null : requireProof(input.factor);
  const account = await findUserById(deps.pool, principal.userId);
  const user = account?.user;
  if (account === null || user?.status !== 'active') throw invalidAccessToken();
  await admitAccount(user.id);

  // A confirmed TOTP authenticator or any passkey is a second factor, as at Login.
  const { totp, passkey } = await findConfirmedSecondFactors(deps.pool, user.id);
  if (proof === null && (totp || passkey)) {
    throw invalidArgument([
      totp
        ? {
            field: 'totp_code',
            description: passkey
              ? 'this account has a second factor: give a current TOTP code, a recovery code or a passkey assertion with the password'
              : 'this account has a second factor: give a current TOTP code (or a recovery code) with the password',
          }
        : {
            field: 'passkey_response_json',
            description:
              'this account has a passkey: give an assertion to the options of StartReauthenticationPasskey with the password',
          },
    ]);
  }
  if (proof !== null && !(proof.method === 'passkey' ? passkey : totp)) {
    throw invalidArgument([
      {
        field: fieldOf(proof),
        description:
          totp || passkey
            ? `this account has no ${proof.method === 'passkey' ? 'passkey' : 'TOTP authenticator'}; give one of its second factors with the password`
            : 'this account has no second factor; give the password alone',
      },
    ]);
  }
  const method = proof?.method ?? null;
  const about = { session_id: principal.sessionId, method };
  const failed = async (reason: CredentialFailure, codeFailure?: string): Promise<never> => {
    await deps.pool.transaction((tx) =>
      recordPasswordFailure(
        tx,
        deps,
        user,
        { ok: false, reason },
        'reauthenticate',
        info,
        codeFailure === undefined ? about : { ...about, code_failure: codeFailure },
      ),
    );
    throw reauthenticationFailed();
  };

  const check = await checkPasswordAndRecordAttempt(deps, account, input.password);
  if (!check.ok) return failed(check.reason);

  const outcome = await deps.pool.transaction(async (tx) => {
    const session = await findSessionById(tx, principal.sessionId, true);
    if (session === null || session.revokedAt !== null || session.userId !== user.id) {
      throw invalidAccessToken();
    }
    let amr: readonly AuthMethodReference[] = AMR.password;
    let passkeyId: string | null = null;
    if (proof?.method === 'passkey') {
      // The challenge must be this session's (StartReauthenticationPasskey); used up here.
      const check = await checkReauthenticationPasskeyProof(
        tx,
        deps,
        { id: session.id, userId: user.id },
        proof.passkey,
        info,
      );
      if (!check.ok) return check;
      amr = check.amr;
      passkeyId = check.passkeyId;
    } else if (proof !== null) {
      const current = await findTotpFactorByUserId(tx, user.id, true);
      if (current === null || current.confirmedAt === null) {
        return { ok: false as const, reason: 'wrong_code' as const };
      }
      const code = await checkSecondFactor(tx, deps, current, proof);
      if (!code.ok) return code;
      // checkSecondFactor checks codes only: TOTP or a recovery code.
      amr = code.method === 'recovery_code' ? AMR.recovery_code : AMR.totp;
      if (code.method === 'recovery_code') {
        await recordAudit(tx, 'recovery_code_use', {
          actor: user.id,
          request: info,
          details: {
            session_id: session.id,
            remaining: await countUnusedRecoveryCodes(tx, user.id),
          },
        });
      }
    }
    const authTime = await updateSessionAuthentication(tx, session.id, amr);
    const updated = await updateUserLoginSucceeded(tx, user.id, check.upgradedHash);
    await recordAudit(tx, 'reauthenticate', {
      actor: user.id,
      request: info,
      details: {
        ...about,
        password_rehashed: check.upgradedHash !== null,
        ...(passkeyId === null ? {} : { passkey_id: passkeyId }),
      },
    });
    const organization =
      session.organizationId === null
        ? null
        : await findActiveMembership(tx, user.id, session.organizationId);
    const token = await issueAccessToken(
      deps,
      updated,
      { id: session.id, amr, authTime },
      organization,
    );
    return { ok: true as const, token, amr, authTime };
  });
  if (!outcome.ok) return failed('wrong_second_factor', outcome.reason);
  return { ...outcome.token, amr: outcome.amr, authTime: outcome.authTime };
}
