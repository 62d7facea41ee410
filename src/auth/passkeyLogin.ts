import type {
  AuthMethodReference,
  MfaChallenge,
  Passkey,
  WebauthnChallenge,
} from '../domain/SecondFactor.ts';
import type { User } from '../domain/User.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { recordAudit } from '../storage/audit.ts';
import type { Db } from '../storage/Db.ts';
import {
  beginPasswordAttempt,
  findUserById,
  findUserByIdentifier,
  updateUserLoginSucceeded,
} from '../storage/users.ts';
import {
  consumeWebauthnChallenge,
  findWebauthnChallengeByChallenge,
  findWebauthnChallengeByIdHash,
  insertWebauthnChallenge,
} from '../storage/webauthnChallenges.ts';
import {
  findPasskeyByCredentialId,
  listPasskeysByUserId,
  updatePasskeyUsed,
} from '../storage/webauthnCredentials.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import {
  type PasswordFailureDeps,
  recordPasswordFailure,
} from './checkPasswordAndRecordAttempt.ts';
import { type IssuedTokens, type IssueSessionDeps, issueSession } from './issueSession.ts';
import { normalizeIdentifier } from './normalize.ts';
import {
  type AssertionFailure,
  authenticationOptionsJson,
  decoyCredentialId,
  hashWebauthnChallengeId,
  isWebauthnChallengeIdShaped,
  newWebauthnChallenge,
  newWebauthnChallengeId,
  parseAuthenticationResponse,
  passkeyAmr,
  requireRpId,
  verifyPasskeyAssertion,
  WEBAUTHN_CHALLENGE_TTL_SEC,
} from './webauthn.ts';

type PasskeyLoginDeps = PasswordFailureDeps &
  IssueSessionDeps &
  Pick<AuthDeps, 'pool' | 'webauthn' | 'lockout' | 'requireVerifiedEmail'>;

function loginFailed(): AppError {
  return new AppError(
    'PASSKEY_LOGIN_FAILED',
    'the passkey sign-in did not succeed; start again with StartPasskeyLogin',
  );
}

/**
 * StartPasskeyLogin: request options and a challenge id. With an identifier, the options list
 * that account's passkeys, or one made-up id (stable per identifier) when it has none or does not
 * exist: the answer has the same shape either way.
 */
export async function startPasskeyLogin(
  deps: Pick<AuthDeps, 'pool' | 'webauthn'>,
  rawIdentifier: string | undefined,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<{ optionsJson: string; challengeId: string }> {
  const identifier = rawIdentifier === undefined ? '' : normalizeIdentifier(rawIdentifier);
  if (identifier.length > 320) {
    throw invalidArgument([
      { field: 'identifier', description: 'must be at most 320 characters (or omitted)' },
    ]);
  }
  if (identifier !== '') await admitAccount(identifier);
  const rpId = requireRpId(deps.webauthn);
  let allow: Buffer[] = [];
  let userId: string | null = null;
  if (identifier !== '') {
    const user = (await findUserByIdentifier(deps.pool, identifier))?.user ?? null;
    const passkeys = user === null ? [] : await listPasskeysByUserId(deps.pool, user.id);
    userId = passkeys.length > 0 ? (user?.id ?? null) : null;
    allow =
      passkeys.length > 0
        ? passkeys.map((p) => p.credentialId)
        : [await decoyCredentialId(deps.webauthn, identifier)];
  }
  const challenge = newWebauthnChallenge();
  const challengeId = newWebauthnChallengeId();
  await insertWebauthnChallenge(deps.pool, {
    idHash: hashWebauthnChallengeId(challengeId),
    userId,
    purpose: 'login',
    challenge,
    mfaChallengeId: null,
    sessionId: null,
    identifier: identifier === '' ? null : identifier,
    ipAddress: info.clientIp,
    ttlSec: WEBAUTHN_CHALLENGE_TTL_SEC,
  });
  return { optionsJson: await authenticationOptionsJson(rpId, challenge, allow), challengeId };
}

/** Audits a counter regression (in the caller's transaction). */
async function auditCounterRegression(
  tx: Db,
  passkey: Passkey,
  presentedCounter: number | undefined,
  purpose: 'login' | 'second_factor' | 'reauthentication',
  info: RequestInfo,
): Promise<void> {
  await recordAudit(tx, 'passkey_counter_regression', {
    subject: passkey.userId,
    outcome: 'denied',
    request: info,
    details: {
      passkey_id: passkey.id,
      stored_counter: passkey.signCount,
      presented_counter: presentedCounter ?? null,
      purpose,
    },
  });
}

/**
 * FinishPasskeyLogin: a session for the account whose passkey signed the challenge of
 * StartPasskeyLogin. The challenge is used up first, whatever follows. A refused assertion of a
 * known passkey counts toward the account's lockout (counted before the check, like a password).
 */
export async function finishPasskeyLogin(
  deps: PasskeyLoginDeps,
  input: { challengeId: string; responseJson: string },
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<{ user: User; tokens: IssuedTokens }> {
  if (input.challengeId === '' || input.challengeId.length > 128) {
    throw invalidArgument([
      {
        field: 'challenge_id',
        description: 'the challenge_id of StartPasskeyLoginResponse is required',
      },
    ]);
  }
  const parsed = parseAuthenticationResponse('response_json', input.responseJson);
  const rpId = requireRpId(deps.webauthn);
  const refuse = async (
    reason: string,
    userId: string | null,
    details: Record<string, string | null> = {},
  ): Promise<never> => {
    await recordAudit(deps.pool, 'passkey_login', {
      subject: userId,
      outcome: 'failure',
      request: info,
      details: { ...details, reason },
    });
    deps.events.login('failure');
    throw loginFailed();
  };
  if (!isWebauthnChallengeIdShaped(input.challengeId)) return refuse('unknown_challenge', null);
  const challenge = await findWebauthnChallengeByIdHash(
    deps.pool,
    hashWebauthnChallengeId(input.challengeId),
  );
  if (challenge === null || challenge.purpose !== 'login') {
    return refuse('unknown_challenge', null);
  }
  const about = { webauthn_challenge_id: challenge.id };
  if (challenge.identifier !== null) await admitAccount(challenge.identifier);
  if (!(await consumeWebauthnChallenge(deps.pool, challenge.id))) {
    return refuse('challenge_not_live', challenge.userId, about);
  }
  if (challenge.ipAddress !== info.clientIp) {
    return refuse('other_source', challenge.userId, about);
  }
  const passkey = await findPasskeyByCredentialId(deps.pool, parsed.credentialId);
  if (passkey === null) return refuse('unknown_passkey', challenge.userId, about);
  const withPasskey = { ...about, passkey_id: passkey.id };
  if (challenge.userId !== null && challenge.userId !== passkey.userId) {
    return refuse('other_account', passkey.userId, withPasskey);
  }
  const account = await findUserById(deps.pool, passkey.userId);
  if (challenge.identifier === null && account !== null) {
    await admitAccount(normalizeIdentifier(account.user.email));
  }

  const outcome = await deps.pool.transaction(async (tx) => {
    const user = (await findUserById(tx, passkey.userId))?.user;
    if (user?.status !== 'active' || (deps.requireVerifiedEmail && !user.emailVerified)) {
      return { kind: 'inactive' as const };
    }
    if (!(await beginPasswordAttempt(tx, user.id, deps.lockout.threshold))) {
      return { kind: 'rejected' as const, user, reason: 'locked' as const };
    }
    const current = await findPasskeyByCredentialId(tx, parsed.credentialId, true);
    if (current === null)
      return { kind: 'rejected' as const, user, reason: 'bad_assertion' as const };
    const check = await verifyPasskeyAssertion(deps.webauthn, rpId, challenge, current, parsed);
    if (!check.ok) {
      return { kind: 'rejected' as const, user, reason: check.reason, check, current };
    }
    await updatePasskeyUsed(tx, current.id, check.newCounter, check.backedUp);
    const updated = await updateUserLoginSucceeded(tx, user.id, null);
    const amr: AuthMethodReference[] = [passkeyAmr(current)];
    if (check.userVerified) amr.push('mfa');
    const { session, tokens } = await issueSession(tx, deps, updated, info, null, amr);
    await recordAudit(tx, 'passkey_login', {
      actor: user.id,
      request: info,
      details: { ...withPasskey, session_id: session.id, user_verified: check.userVerified },
    });
    await recordAudit(tx, 'login', {
      actor: user.id,
      request: info,
      details: {
        session_id: session.id,
        password_rehashed: false,
        organization_id: null,
        method: 'passkey',
      },
    });
    return { kind: 'ok' as const, user: updated, tokens };
  });
  if (outcome.kind === 'inactive') return refuse('account_inactive', passkey.userId, withPasskey);
  if (outcome.kind === 'rejected') {
    await deps.pool.transaction(async (tx) => {
      if (outcome.reason === 'counter_regression' && 'current' in outcome) {
        await auditCounterRegression(
          tx,
          outcome.current,
          outcome.check.presentedCounter,
          'login',
          info,
        );
      }
      await recordPasswordFailure(
        tx,
        deps,
        outcome.user,
        { ok: false, reason: outcome.reason === 'locked' ? 'locked' : 'wrong_second_factor' },
        'passkey_login',
        info,
        { ...withPasskey, passkey_failure: outcome.reason },
      );
    });
    deps.events.login('failure');
    throw loginFailed();
  }
  deps.events.login('success');
  return { user: outcome.user, tokens: outcome.tokens };
}

/**
 * StartMfaPasskey's core, once the mfa challenge is known live and from the right address:
 * request options listing the user's passkeys, bound to the challenge (null when the user has
 * none).
 */
export async function openMfaPasskeyChallenge(
  deps: Pick<AuthDeps, 'pool' | 'webauthn'>,
  challenge: MfaChallenge,
  info: RequestInfo,
): Promise<string | null> {
  const rpId = requireRpId(deps.webauthn);
  const passkeys = await listPasskeysByUserId(deps.pool, challenge.userId);
  if (passkeys.length === 0) return null;
  const bytes = newWebauthnChallenge();
  await insertWebauthnChallenge(deps.pool, {
    idHash: hashWebauthnChallengeId(newWebauthnChallengeId()),
    userId: challenge.userId,
    purpose: 'second_factor',
    challenge: bytes,
    mfaChallengeId: challenge.id,
    sessionId: null,
    identifier: challenge.identifier,
    ipAddress: info.clientIp,
    ttlSec: WEBAUTHN_CHALLENGE_TTL_SEC,
  });
  return authenticationOptionsJson(
    rpId,
    bytes,
    passkeys.map((p) => p.credentialId),
  );
}

/** A passkey assertion offered as a second factor (CompleteMfaLogin, Reauthenticate). */
export type PasskeyProof = ReturnType<typeof parseAuthenticationResponse>;

/** Why a passkey proof was refused (audit details). */
export type PasskeyProofFailure = AssertionFailure | 'unknown_challenge' | 'unknown_passkey';

/** What a passkey proof answers: the passkey's amr with the password's, or why it was refused. */
export type PasskeyProofOutcome =
  | { ok: true; amr: AuthMethodReference[]; passkeyId: string }
  | { ok: false; reason: PasskeyProofFailure };

/**
 * Checks a passkey proof for `mfaChallenge` in the caller's transaction: the WebAuthn challenge
 * StartMfaPasskey opened for it (used up here), a passkey of the challenge's user, the
 * assertion and its counter. On success the passkey's use is recorded.
 */
export function checkPasskeyProof(
  tx: Db,
  deps: Pick<AuthDeps, 'webauthn'>,
  mfaChallenge: MfaChallenge,
  proof: PasskeyProof,
  info: RequestInfo,
): Promise<PasskeyProofOutcome> {
  return checkPasskeyProofFor(
    tx,
    deps,
    {
      purpose: 'second_factor',
      userId: mfaChallenge.userId,
      owns: (c) => c.mfaChallengeId === mfaChallenge.id,
    },
    proof,
    info,
  );
}

/**
 * Checks a passkey proof for Reauthenticate in the caller's transaction: the WebAuthn challenge
 * StartReauthenticationPasskey opened for this session (used up here), a passkey of the
 * session's user, the assertion and its counter. On success the passkey's use is recorded.
 */
export function checkReauthenticationPasskeyProof(
  tx: Db,
  deps: Pick<AuthDeps, 'webauthn'>,
  session: { id: string; userId: string },
  proof: PasskeyProof,
  info: RequestInfo,
): Promise<PasskeyProofOutcome> {
  return checkPasskeyProofFor(
    tx,
    deps,
    {
      purpose: 'reauthentication',
      userId: session.userId,
      owns: (c) => c.sessionId === session.id && c.userId === session.userId,
    },
    proof,
    info,
  );
}

/**
 * The check both proofs share: the challenge of `purpose` the assertion signed must belong to
 * the caller (`owns`) and is used up whatever follows; then a passkey of `userId`, the
 * assertion, and the counter (a regression is refused and audited).
 */
async function checkPasskeyProofFor(
  tx: Db,
  deps: Pick<AuthDeps, 'webauthn'>,
  expected: {
    purpose: 'second_factor' | 'reauthentication';
    userId: string;
    owns: (challenge: WebauthnChallenge) => boolean;
  },
  proof: PasskeyProof,
  info: RequestInfo,
): Promise<PasskeyProofOutcome> {
  const rpId = requireRpId(deps.webauthn);
  const challenge = await findWebauthnChallengeByChallenge(
    tx,
    proof.clientData.challenge,
    expected.purpose,
  );
  if (
    challenge === null ||
    !expected.owns(challenge) ||
    !(await consumeWebauthnChallenge(tx, challenge.id))
  ) {
    return { ok: false, reason: 'unknown_challenge' };
  }
  const passkey = await findPasskeyByCredentialId(tx, proof.credentialId, true);
  if (passkey === null || passkey.userId !== expected.userId) {
    return { ok: false, reason: 'unknown_passkey' };
  }
  const check = await verifyPasskeyAssertion(deps.webauthn, rpId, challenge, passkey, proof);
  if (!check.ok) {
    if (check.reason === 'counter_regression') {
      await auditCounterRegression(tx, passkey, check.presentedCounter, expected.purpose, info);
    }
    return { ok: false, reason: check.reason };
  }
  await updatePasskeyUsed(tx, passkey.id, check.newCounter, check.backedUp);
  return { ok: true, amr: ['pwd', passkeyAmr(passkey), 'mfa'], passkeyId: passkey.id };
}

/**
 * StartReauthenticationPasskey: request options listing the caller's passkeys, bound to the
 * calling session, whose answer goes to Reauthenticate.passkey_response_json. A new call
 * replaces the session's earlier options. FAILED_PRECONDITION (PASSKEYS_NOT_CONFIGURED) without
 * a relying party; NOT_FOUND (PASSKEY_NOT_FOUND) when the caller has no passkey.
 */
export async function startReauthenticationPasskey(
  deps: Pick<AuthDeps, 'pool' | 'webauthn'>,
  principal: { userId: string; sessionId: string },
  info: RequestInfo,
): Promise<{ optionsJson: string }> {
  const rpId = requireRpId(deps.webauthn);
  const passkeys = await listPasskeysByUserId(deps.pool, principal.userId);
  if (passkeys.length === 0) {
    throw new AppError(
      'PASSKEY_NOT_FOUND',
      'this account has no passkey; reauthenticate with the password (and a TOTP or recovery code)',
    );
  }
  const bytes = newWebauthnChallenge();
  await insertWebauthnChallenge(deps.pool, {
    idHash: hashWebauthnChallengeId(newWebauthnChallengeId()),
    userId: principal.userId,
    purpose: 'reauthentication',
    challenge: bytes,
    mfaChallengeId: null,
    sessionId: principal.sessionId,
    identifier: null,
    ipAddress: info.clientIp,
    ttlSec: WEBAUTHN_CHALLENGE_TTL_SEC,
  });
  return {
    optionsJson: await authenticationOptionsJson(
      rpId,
      bytes,
      passkeys.map((p) => p.credentialId),
    ),
  };
}
