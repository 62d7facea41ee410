import type { MfaMethodName, TotpFactor } from '../domain/SecondFactor.ts';
import { invalidArgument } from '../errors/AppError.ts';
import type { Db } from '../storage/Db.ts';
import { consumeRecoveryCode } from '../storage/recoveryCodes.ts';
import { claimTotpStep } from '../storage/totpFactors.ts';
import type { AuthDeps } from './AuthDeps.ts';
import { hashRecoveryCode, normalizeRecoveryCode } from './recoveryCodes.ts';
import { matchTotpCode, TOTP_CODE } from './totpCodes.ts';

/** A second factor as a request presents it (the oneof of the proto, after mapping). */
export type SecondFactorProof =
  | { method: 'totp'; code: string }
  | { method: 'recovery_code'; code: string };

/** Why a proof was refused (audit details; never the code). */
export type SecondFactorFailure = 'wrong_code' | 'replayed_code' | 'undecryptable_secret';

/** The request's proof, checked for shape before any lookup; INVALID_ARGUMENT otherwise. */
export function requireSecondFactorProof(
  factor:
    | { $case: 'totpCode'; value: string }
    | { $case: 'recoveryCode'; value: string }
    | undefined,
): SecondFactorProof {
  if (factor === undefined) {
    throw invalidArgument([
      { field: 'totp_code', description: 'a TOTP code or a recovery code is required' },
    ]);
  }
  if (factor.$case === 'totpCode') {
    if (!TOTP_CODE.test(factor.value)) {
      throw invalidArgument([
        { field: 'totp_code', description: 'must be the 6 digits the authenticator shows' },
      ]);
    }
    return { method: 'totp', code: factor.value };
  }
  if (normalizeRecoveryCode(factor.value) === null) {
    throw invalidArgument([
      {
        field: 'recovery_code',
        description: 'must be a recovery code as issued (12 letters and digits, dashes optional)',
      },
    ]);
  }
  return { method: 'recovery_code', code: factor.value };
}

/** The request field a proof came in, for field violations. */
export function proofField(proof: SecondFactorProof): 'totp_code' | 'recovery_code' {
  return proof.method === 'totp' ? 'totp_code' : 'recovery_code';
}

/**
 * Checks `proof` against the user's confirmed TOTP authenticator and recovery codes in the
 * caller's transaction, and on success uses it up there: the TOTP step is claimed (so the code,
 * or an earlier one, is refused from now on) or the recovery code is marked used. Both are
 * atomic UPDATEs, so two concurrent calls with one code cannot both pass.
 */
export async function checkSecondFactor(
  tx: Db,
  deps: Pick<AuthDeps, 'mfa' | 'log'>,
  factor: TotpFactor,
  proof: SecondFactorProof,
): Promise<{ ok: true; method: MfaMethodName } | { ok: false; reason: SecondFactorFailure }> {
  if (proof.method === 'recovery_code') {
    const used = await consumeRecoveryCode(tx, factor.userId, hashRecoveryCode(proof.code));
    return used ? { ok: true, method: 'recovery_code' } : { ok: false, reason: 'wrong_code' };
  }
  const secret = deps.mfa.secretBox?.open(factor.secretCiphertext, factor.userId) ?? null;
  if (secret === null) {
    deps.log.error(
      { userId: factor.userId, keyId: factor.keyId },
      'a TOTP secret does not open under MFA_ENCRYPTION_KEY (was the key changed?)',
    );
    return { ok: false, reason: 'undecryptable_secret' };
  }
  const step = await matchTotpCode(secret, proof.code, null);
  if (step === null) return { ok: false, reason: 'wrong_code' };
  if (factor.lastUsedStep !== null && step <= factor.lastUsedStep) {
    return { ok: false, reason: 'replayed_code' };
  }
  if (!(await claimTotpStep(tx, factor.userId, step)))
    return { ok: false, reason: 'replayed_code' };
  return { ok: true, method: 'totp' };
}
