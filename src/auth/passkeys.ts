import { generateRegistrationOptions, verifyRegistrationResponse } from '@simplewebauthn/server';
import type { Passkey } from '../domain/SecondFactor.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { recordAudit } from '../storage/audit.ts';
import { findUserById } from '../storage/users.ts';
import {
  consumeWebauthnChallenge,
  findWebauthnChallengeByChallenge,
  insertWebauthnChallenge,
} from '../storage/webauthnChallenges.ts';
import {
  deletePasskey as deletePasskeyRow,
  insertPasskey,
  listPasskeysByUserId,
  renamePasskey as renamePasskeyRow,
} from '../storage/webauthnCredentials.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { isUuid } from './normalize.ts';
import type { UserPrincipal } from './Principal.ts';
import {
  allowedOrigin,
  hashWebauthnChallengeId,
  newWebauthnChallenge,
  newWebauthnChallengeId,
  parseRegistrationResponse,
  requireRpId,
  userHandleOf,
  WEBAUTHN_CHALLENGE_TTL_SEC,
} from './webauthn.ts';

/*
 * The self-service passkey RPCs of a signed-in user: register (start, finish), list, rename,
 * delete. Each change and its audit row are one transaction; a refused registration is audited
 * as a failure in a transaction of its own.
 */

type PasskeyDeps = Pick<AuthDeps, 'pool' | 'webauthn' | 'mfa'>;

const MAX_DISPLAY_NAME = 64;

function registrationFailed(): AppError {
  return new AppError(
    'PASSKEY_REGISTRATION_FAILED',
    'response_json: the passkey could not be verified; start the registration again',
    {
      fieldViolations: [
        {
          field: 'response_json',
          description:
            'does not answer a live registration challenge of this account from an allowed origin',
          reason: 'MISMATCH',
        },
      ],
    },
  );
}

function passkeyNotFound(): AppError {
  return new AppError('PASSKEY_NOT_FOUND', 'no passkey with that id');
}

function checkDisplayName(name: string, required: boolean) {
  const trimmed = name.trim();
  if ((required && trimmed === '') || [...trimmed].length > MAX_DISPLAY_NAME) {
    return {
      field: 'display_name',
      description: required
        ? `must be 1 to ${MAX_DISPLAY_NAME} characters`
        : `must be at most ${MAX_DISPLAY_NAME} characters`,
    };
  }
  return null;
}

/** StartPasskeyRegistration: creation options for the caller (their passkeys excluded). */
export async function startPasskeyRegistration(
  deps: PasskeyDeps,
  principal: UserPrincipal,
  info: RequestInfo,
): Promise<{ optionsJson: string }> {
  const rpId = requireRpId(deps.webauthn);
  const user = (await findUserById(deps.pool, principal.userId))?.user;
  if (user?.status !== 'active') throw invalidAccessToken();
  const challenge = newWebauthnChallenge();
  const existing = await listPasskeysByUserId(deps.pool, user.id);
  const options = await generateRegistrationOptions({
    rpName: deps.webauthn.rpName,
    rpID: rpId,
    userName: user.email,
    userID: new Uint8Array(Buffer.from(userHandleOf(user.id), 'base64url')),
    userDisplayName: user.displayName || user.email,
    challenge: new Uint8Array(challenge),
    timeout: WEBAUTHN_CHALLENGE_TTL_SEC * 1000,
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({
      id: p.credentialId.toString('base64url'),
      transports: p.transports,
    })),
    authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
  });
  await deps.pool.transaction(async (tx) => {
    const stored = await insertWebauthnChallenge(tx, {
      idHash: hashWebauthnChallengeId(newWebauthnChallengeId()),
      userId: user.id,
      purpose: 'registration',
      challenge,
      mfaChallengeId: null,
      sessionId: null,
      identifier: null,
      ipAddress: info.clientIp,
      ttlSec: WEBAUTHN_CHALLENGE_TTL_SEC,
    });
    await recordAudit(tx, 'passkey_registration_start', {
      actor: user.id,
      request: info,
      details: { session_id: principal.sessionId, webauthn_challenge_id: stored.id },
    });
  });
  return { optionsJson: JSON.stringify(options) };
}

/**
 * FinishPasskeyRegistration: verifies the authenticator's answer against the caller's live
 * registration challenge (used up either way) and stores the passkey.
 */
export async function finishPasskeyRegistration(
  deps: PasskeyDeps,
  principal: UserPrincipal,
  input: { responseJson: string; displayName: string },
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<Passkey> {
  const nameProblem = checkDisplayName(input.displayName, false);
  if (nameProblem !== null) throw invalidArgument([nameProblem]);
  const parsed = parseRegistrationResponse('response_json', input.responseJson);
  await admitAccount(principal.userId);
  const rpId = requireRpId(deps.webauthn);
  const refuse = async (reason: string): Promise<never> => {
    await recordAudit(deps.pool, 'passkey_register', {
      actor: principal.userId,
      outcome: 'failure',
      request: info,
      details: { session_id: principal.sessionId, reason },
    });
    throw registrationFailed();
  };
  const challenge = await findWebauthnChallengeByChallenge(
    deps.pool,
    parsed.clientData.challenge,
    'registration',
  );
  if (challenge === null || challenge.userId !== principal.userId) {
    return refuse('unknown_challenge');
  }
  if (!(await consumeWebauthnChallenge(deps.pool, challenge.id))) {
    return refuse('challenge_not_live');
  }
  const origin = allowedOrigin(deps.webauthn, parsed.clientData);
  if (origin === null) return refuse('origin_not_allowed');
  let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verified = await verifyRegistrationResponse({
      response: parsed.response,
      expectedChallenge: challenge.challenge.toString('base64url'),
      expectedOrigin: origin,
      expectedRPID: rpId,
      requireUserVerification: false,
    });
  } catch {
    return refuse('bad_attestation');
  }
  if (!verified.verified) return refuse('bad_attestation');
  const reg = verified.registrationInfo;
  const displayName = input.displayName.trim() || 'Passkey';
  const registered = await deps.pool.transaction(async (tx) => {
    const passkey = await insertPasskey(tx, {
      userId: principal.userId,
      credentialId: Buffer.from(reg.credential.id, 'base64url'),
      publicKey: Buffer.from(reg.credential.publicKey),
      signCount: reg.credential.counter,
      transports: (reg.credential.transports ?? []).slice(0, 8),
      aaguid: reg.aaguid,
      multiDevice: reg.credentialDeviceType === 'multiDevice',
      backedUp: reg.credentialBackedUp,
      displayName,
    });
    if (passkey === null) {
      throw new AppError('PASSKEY_ALREADY_REGISTERED', 'this passkey is registered already');
    }
    await recordAudit(tx, 'passkey_register', {
      actor: principal.userId,
      request: info,
      details: {
        session_id: principal.sessionId,
        passkey_id: passkey.id,
        aaguid: passkey.aaguid,
        multi_device: passkey.multiDevice,
      },
    });
    return passkey;
  });
  // A first factor lifts MFA_REQUIRED_ROLES' enrolment-only restriction at the next call.
  deps.mfa.factors.forget(principal.userId);
  return registered;
}

/** ListPasskeys: the caller's passkeys, newest first. */
export function listPasskeys(deps: PasskeyDeps, principal: UserPrincipal): Promise<Passkey[]> {
  return listPasskeysByUserId(deps.pool, principal.userId);
}

function requirePasskeyId(id: string) {
  return isUuid(id)
    ? null
    : {
        field: 'passkey_id',
        description: 'must be a passkey id (a UUID)',
        reason: 'INVALID_FORMAT',
      };
}

/** RenamePasskey: a new display name for one of the caller's passkeys. */
export async function renamePasskey(
  deps: PasskeyDeps,
  principal: UserPrincipal,
  input: { passkeyId: string; displayName: string },
  info: RequestInfo,
): Promise<Passkey> {
  const violations = [
    requirePasskeyId(input.passkeyId),
    checkDisplayName(input.displayName, true),
  ].filter((v) => v !== null);
  if (violations.length > 0) throw invalidArgument(violations);
  return deps.pool.transaction(async (tx) => {
    const passkey = await renamePasskeyRow(
      tx,
      principal.userId,
      input.passkeyId,
      input.displayName.trim(),
    );
    if (passkey === null) throw passkeyNotFound();
    await recordAudit(tx, 'passkey_rename', {
      actor: principal.userId,
      request: info,
      details: { session_id: principal.sessionId, passkey_id: passkey.id },
    });
    return passkey;
  });
}

/** DeletePasskey: removes one of the caller's passkeys. */
export async function deletePasskey(
  deps: PasskeyDeps,
  principal: UserPrincipal,
  passkeyId: string,
  info: RequestInfo,
): Promise<void> {
  const problem = requirePasskeyId(passkeyId);
  if (problem !== null) throw invalidArgument([problem]);
  await deps.pool.transaction(async (tx) => {
    if (!(await deletePasskeyRow(tx, principal.userId, passkeyId))) throw passkeyNotFound();
    await recordAudit(tx, 'passkey_delete', {
      actor: principal.userId,
      request: info,
      details: { session_id: principal.sessionId, passkey_id: passkeyId },
    });
  });
  // It may have been the last factor (MFA_REQUIRED_ROLES applies again at the next call).
  deps.mfa.factors.forget(principal.userId);
}
