import type { Passkey } from '../domain/SecondFactor.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { recordAudit } from '../storage/audit.ts';
import type { Db } from '../storage/Db.ts';
import {
  countUnusedRecoveryCodes,
  deleteRecoveryCodes,
  replaceRecoveryCodes,
} from '../storage/recoveryCodes.ts';
import {
  confirmTotpFactor,
  deleteTotpFactor,
  findTotpFactorByUserId,
  upsertPendingTotpFactor,
} from '../storage/totpFactors.ts';
import { findUserById } from '../storage/users.ts';
import { listPasskeysByUserId } from '../storage/webauthnCredentials.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import {
  checkSecondFactor,
  proofField,
  type SecondFactorFailure,
  type SecondFactorProof,
} from './checkSecondFactor.ts';
import type { UserPrincipal } from './Principal.ts';
import { newRecoveryCodeSet } from './recoveryCodes.ts';
import { newTotpSecret, TOTP_CODE, totpUri } from './totpCodes.ts';

/*
 * The self-service second-factor RPCs of a signed-in user: enrol, confirm and disable a TOTP
 * authenticator, renew recovery codes, list what is enrolled. Each change and its audit row
 * are one transaction; a wrong code is audited as a failure in a transaction of its own.
 */

type SecondFactorDeps = Pick<AuthDeps, 'pool' | 'mfa' | 'log'>;

function mfaNotConfigured(): AppError {
  return new AppError(
    'MFA_NOT_CONFIGURED',
    'two-factor sign-in is not available: the server has no MFA_ENCRYPTION_KEY',
  );
}

function totpNotEnrolled(message: string): AppError {
  return new AppError('TOTP_NOT_ENROLLED', message);
}

function totpAlreadyEnrolled(): AppError {
  return new AppError(
    'TOTP_ALREADY_ENROLLED',
    'a TOTP authenticator is already enrolled; disable it (DisableTotp) to enrol another',
  );
}

function invalidMfaCode(field: string, reason: SecondFactorFailure): AppError {
  return new AppError('INVALID_MFA_CODE', `${field}: the code is not valid`, {
    fieldViolations: [
      {
        field,
        description:
          reason === 'replayed_code'
            ? 'this code was already used; wait for the next one'
            : 'is not a current code',
        reason: 'MISMATCH',
      },
    ],
  });
}

/** StartTotpEnrollment: a new pending secret (replacing a pending one) and its otpauth:// URI. */
export async function startTotpEnrollment(
  deps: SecondFactorDeps,
  principal: UserPrincipal,
  info: RequestInfo,
): Promise<{ secret: string; otpauthUri: string }> {
  const box = deps.mfa.secretBox;
  if (box === null) throw mfaNotConfigured();
  const user = (await findUserById(deps.pool, principal.userId))?.user;
  if (user?.status !== 'active') throw invalidAccessToken();
  const secret = newTotpSecret();
  await deps.pool.transaction(async (tx) => {
    const stored = await upsertPendingTotpFactor(tx, {
      userId: user.id,
      secretCiphertext: box.seal(secret, user.id),
      keyId: box.keyId,
    });
    if (stored === null) throw totpAlreadyEnrolled();
    await recordAudit(tx, 'totp_enrollment_start', {
      actor: user.id,
      request: info,
      details: { session_id: principal.sessionId, replaced: stored.replaced },
    });
  });
  return { secret, otpauthUri: totpUri(deps.mfa.totpIssuer, user.email, secret) };
}

/**
 * ConfirmTotpEnrollment: activates the pending authenticator with a current code and issues a
 * new set of recovery codes (voiding any old one).
 */
export async function confirmTotpEnrollment(
  deps: SecondFactorDeps,
  principal: UserPrincipal,
  code: string,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<{ recoveryCodes: string[] }> {
  if (!TOTP_CODE.test(code)) {
    throw invalidArgumentCode();
  }
  await admitAccount(principal.userId);
  if (deps.mfa.secretBox === null) throw mfaNotConfigured();
  const outcome = await deps.pool.transaction(async (tx) => {
    const factor = await findTotpFactorByUserId(tx, principal.userId, true);
    if (factor === null) {
      throw totpNotEnrolled('no TOTP enrolment was started; call StartTotpEnrollment first');
    }
    if (factor.confirmedAt !== null) throw totpAlreadyEnrolled();
    const check = await checkSecondFactor(tx, deps, factor, { method: 'totp', code });
    if (!check.ok) return check;
    await confirmTotpFactor(tx, principal.userId);
    const set = newRecoveryCodeSet();
    const voided = await replaceRecoveryCodes(tx, principal.userId, set.hashes);
    await recordAudit(tx, 'totp_enrollment_confirm', {
      actor: principal.userId,
      request: info,
      details: {
        session_id: principal.sessionId,
        recovery_codes_issued: set.codes.length,
        recovery_codes_voided: voided,
      },
    });
    return { ok: true as const, codes: set.codes };
  });
  if (outcome.ok) {
    // MFA_REQUIRED_ROLES: the next call of this user sees the factor.
    deps.mfa.factors.forget(principal.userId);
    return { recoveryCodes: outcome.codes };
  }
  await auditFailure(deps, 'totp_enrollment_confirm', principal, info, 'totp', outcome.reason);
  throw invalidMfaCode('code', outcome.reason);
}

function invalidArgumentCode(): AppError {
  return invalidArgument([
    { field: 'code', description: 'must be the 6 digits the authenticator shows' },
  ]);
}

async function auditFailure(
  deps: SecondFactorDeps,
  action: 'totp_enrollment_confirm' | 'totp_disable' | 'recovery_codes_regenerate',
  principal: UserPrincipal,
  info: RequestInfo,
  method: SecondFactorProof['method'],
  reason: SecondFactorFailure,
): Promise<void> {
  await recordAudit(deps.pool, action, {
    actor: principal.userId,
    outcome: 'failure',
    request: info,
    details: { session_id: principal.sessionId, method, reason },
  });
}

/**
 * Checks `proof` against the caller's confirmed authenticator in a transaction and, when it
 * passes, runs `change` in the same one; a failed proof is audited under `action` and thrown.
 */
async function withSecondFactor<T>(
  deps: SecondFactorDeps,
  principal: UserPrincipal,
  proof: SecondFactorProof,
  info: RequestInfo,
  admitAccount: AdmitAccount,
  action: 'totp_disable' | 'recovery_codes_regenerate',
  change: (tx: Db) => Promise<T>,
): Promise<T> {
  await admitAccount(principal.userId);
  const outcome = await deps.pool.transaction(async (tx) => {
    const factor = await findTotpFactorByUserId(tx, principal.userId, true);
    if (factor === null || factor.confirmedAt === null) {
      throw totpNotEnrolled('no TOTP authenticator is enrolled');
    }
    const check = await checkSecondFactor(tx, deps, factor, proof);
    if (!check.ok) return check;
    if (check.method === 'recovery_code') {
      await recordAudit(tx, 'recovery_code_use', {
        actor: principal.userId,
        request: info,
        details: {
          session_id: principal.sessionId,
          remaining: await countUnusedRecoveryCodes(tx, principal.userId),
        },
      });
    }
    return { ok: true as const, value: await change(tx) };
  });
  if (outcome.ok) return outcome.value;
  await auditFailure(deps, action, principal, info, proof.method, outcome.reason);
  throw invalidMfaCode(proofField(proof), outcome.reason);
}

/** DisableTotp: removes the authenticator and every recovery code, given a proof of either. */
export async function disableTotp(
  deps: SecondFactorDeps,
  principal: UserPrincipal,
  proof: SecondFactorProof,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<void> {
  await withSecondFactor(deps, principal, proof, info, admitAccount, 'totp_disable', async (tx) => {
    await deleteTotpFactor(tx, principal.userId);
    await deleteRecoveryCodes(tx, principal.userId);
    await recordAudit(tx, 'totp_disable', {
      actor: principal.userId,
      request: info,
      details: { session_id: principal.sessionId, method: proof.method },
    });
  });
  deps.mfa.factors.forget(principal.userId);
}

/** RegenerateRecoveryCodes: a new set of codes; every code of the old set stops working. */
export async function regenerateRecoveryCodes(
  deps: SecondFactorDeps,
  principal: UserPrincipal,
  proof: SecondFactorProof,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<{ recoveryCodes: string[] }> {
  return withSecondFactor(
    deps,
    principal,
    proof,
    info,
    admitAccount,
    'recovery_codes_regenerate',
    async (tx) => {
      const set = newRecoveryCodeSet();
      const voided = await replaceRecoveryCodes(tx, principal.userId, set.hashes);
      await recordAudit(tx, 'recovery_codes_regenerate', {
        actor: principal.userId,
        request: info,
        details: { session_id: principal.sessionId, method: proof.method, voided },
      });
      return { recoveryCodes: set.codes };
    },
  );
}

/** What ListAuthFactors answers: enrolment state and counts, never secrets. */
export interface AuthFactors {
  totp: { enrolled: boolean; confirmedAt: Date | null; enrollmentPending: boolean };
  recoveryCodesRemaining: number;
  /** Registered passkeys, newest first. */
  passkeys: Passkey[];
}

/** ListAuthFactors: the caller's TOTP state, unused recovery codes and passkeys. */
export async function listAuthFactors(
  deps: Pick<AuthDeps, 'pool'>,
  principal: UserPrincipal,
): Promise<AuthFactors> {
  const factor = await findTotpFactorByUserId(deps.pool, principal.userId);
  return {
    totp: {
      enrolled: factor?.confirmedAt != null,
      confirmedAt: factor?.confirmedAt ?? null,
      enrollmentPending: factor !== null && factor.confirmedAt === null,
    },
    recoveryCodesRemaining: await countUnusedRecoveryCodes(deps.pool, principal.userId),
    passkeys: await listPasskeysByUserId(deps.pool, principal.userId),
  };
}
