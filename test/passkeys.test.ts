import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import { MfaMethod, type Tokens } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { atStableStep, settle, totpCode } from './helpers/totp.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';
import {
  type AuthenticatorPage,
  type PasskeyBrowser,
  startPasskeyBrowser,
} from './helpers/virtualAuthenticator.ts';

// Passkeys against a real authenticator: Debian's chromium with the DevTools protocol's virtual
// authenticator, on a page served on http://localhost:<port> (RP id localhost).

// The address tests sign in from (TRUSTED_PROXIES lets the test choose it per call).
const HOME = { 'x-forwarded-for': '203.0.113.5' };
const ELSEWHERE = { 'x-forwarded-for': '198.51.100.7' };

interface CreationOptions {
  challenge: string;
  rp: { id: string; name: string };
  user: { id: string; name: string };
  excludeCredentials: { id: string }[];
  authenticatorSelection: { residentKey: string; userVerification: string };
}

interface RequestOptions {
  challenge: string;
  rpId: string;
  allowCredentials?: { id: string }[];
}

describe('passkeys (WebAuthn) against a virtual authenticator', () => {
  let gh: Gatehouse;
  let browser: PasskeyBrowser;

  before(async () => {
    browser = await startPasskeyBrowser();
    gh = await startGatehouse({
      TRUSTED_PROXIES: '127.0.0.1',
      LOCKOUT_THRESHOLD: '5',
      LOCKOUT_BASE_SEC: '600',
      LOCKOUT_MAX_SEC: '600',
      WEBAUTHN_RP_ID: 'localhost',
      WEBAUTHN_RP_NAME: 'Gatehouse tests',
      WEBAUTHN_ORIGINS: browser.origin,
    });
  });
  after(async () => {
    await gh?.stop();
    await browser?.close();
  });

  const auditRows = async (userId: string, action: string) =>
    gh.db.query<{ outcome: string; details: Record<string, unknown> }>(
      'SELECT outcome, details FROM audit_events WHERE subject_user_id = $1 AND action = $2 ORDER BY id',
      [userId, action],
    );
  const storedCounter = async (passkeyId: string) =>
    Number(
      (
        await gh.db.query<{ sign_count: string }>(
          'SELECT sign_count FROM webauthn_credentials WHERE id = $1',
          [passkeyId],
        )
      )[0]?.sign_count,
    );
  const failedLogins = async (userId: string) =>
    (
      await gh.db.query<{ failed_login_count: number }>(
        'SELECT failed_login_count FROM users WHERE id = $1',
        [userId],
      )
    )[0]?.failed_login_count;

  /** A new user with one passkey registered on a new authenticator page. */
  async function userWithPasskey(name = 'Laptop') {
    const reg = await registerUser(gh);
    const token = reg.tokens.accessToken;
    const authenticator = await browser.newAuthenticatorPage();
    const { optionsJson } = await call(gh.auth, 'startPasskeyRegistration', {}, { token });
    const responseJson = await authenticator.create(optionsJson);
    const { passkey } = await call(
      gh.auth,
      'finishPasskeyRegistration',
      { responseJson, displayName: name },
      { token },
    );
    assert.ok(passkey);
    return { ...reg, token, authenticator, passkey, optionsJson, responseJson };
  }

  async function passwordlessLogin(authenticator: AuthenticatorPage, identifier?: string) {
    const start = await call(
      gh.auth,
      'startPasskeyLogin',
      identifier === undefined ? {} : { identifier },
      { metadata: HOME },
    );
    const responseJson = await authenticator.get(start.optionsJson);
    return {
      start,
      responseJson,
      finish: () =>
        call(
          gh.auth,
          'finishPasskeyLogin',
          { challengeId: start.challengeId, responseJson },
          { metadata: HOME },
        ),
    };
  }

  const claimsOf = (tokens: Tokens | undefined) => {
    assert.ok(tokens, 'tokens are set');
    return decodeJwt(tokens.accessToken);
  };

  it('registers a passkey: options for this RP and user, then the verified credential', async () => {
    const reg = await registerUser(gh);
    const token = reg.tokens.accessToken;
    const authenticator = await browser.newAuthenticatorPage();
    const { optionsJson } = await call(gh.auth, 'startPasskeyRegistration', {}, { token });
    const options = JSON.parse(optionsJson) as CreationOptions;
    assert.equal(options.rp.id, 'localhost');
    assert.equal(options.rp.name, 'Gatehouse tests');
    assert.equal(options.user.name, reg.email);
    assert.equal(
      Buffer.from(options.user.id, 'base64url').toString('hex'),
      reg.user.id.replaceAll('-', ''),
      'the user handle is the user id',
    );
    assert.equal(options.authenticatorSelection.residentKey, 'preferred');
    assert.deepEqual(options.excludeCredentials, []);

    const responseJson = await authenticator.create(optionsJson);
    const { passkey } = await call(
      gh.auth,
      'finishPasskeyRegistration',
      { responseJson, displayName: '  Work laptop ' },
      { token },
    );
    assert.ok(passkey);
    assert.equal(passkey.displayName, 'Work laptop');
    assert.equal(passkey.multiDevice, false);
    const [stored] = await authenticator.credentials();
    assert.ok(stored);
    assert.equal(
      passkey.credentialId,
      Buffer.from(stored.credentialId, 'base64').toString('base64url'),
    );
    assert.ok(stored.isResidentCredential, 'a discoverable credential');

    const listed = await call(gh.auth, 'listPasskeys', {}, { token });
    assert.deepEqual(
      listed.passkeys.map((p) => p.id),
      [passkey.id],
    );
    assert.ok(!JSON.stringify(listed).toLowerCase().includes('publickey'), 'no public key shown');
    const factors = await call(gh.auth, 'listAuthFactors', {}, { token });
    assert.deepEqual(
      factors.passkeys.map((p) => p.id),
      [passkey.id],
    );
    assert.deepEqual(
      (await auditRows(reg.user.id, 'passkey_register')).map((r) => r.outcome),
      ['success'],
    );

    // The challenge was used up: the same answer again is refused, and audited.
    const replay = await expectRpcError(
      call(gh.auth, 'finishPasskeyRegistration', { responseJson, displayName: '' }, { token }),
      status.INVALID_ARGUMENT,
      'PASSKEY_REGISTRATION_FAILED',
    );
    assert.equal(replay.fieldViolations?.[0]?.field, 'response_json');
    assert.deepEqual(
      (await auditRows(reg.user.id, 'passkey_register')).map((r) => r.outcome),
      ['success', 'failure'],
    );

    // New options exclude the registered passkey.
    const again = JSON.parse(
      (await call(gh.auth, 'startPasskeyRegistration', {}, { token })).optionsJson,
    ) as CreationOptions;
    assert.deepEqual(
      again.excludeCredentials.map((c) => c.id),
      [passkey.credentialId],
    );
  });

  it('refuses a registration answer to another user, an expired challenge, and malformed JSON', async () => {
    const alice = await registerUser(gh);
    const bob = await registerUser(gh);
    const authenticator = await browser.newAuthenticatorPage();
    const { optionsJson } = await call(
      gh.auth,
      'startPasskeyRegistration',
      {},
      { token: alice.tokens.accessToken },
    );
    const responseJson = await authenticator.create(optionsJson);
    await expectRpcError(
      call(
        gh.auth,
        'finishPasskeyRegistration',
        { responseJson, displayName: '' },
        { token: bob.tokens.accessToken },
      ),
      status.INVALID_ARGUMENT,
      'PASSKEY_REGISTRATION_FAILED',
    );
    // Expired (moved past its 5 minutes in SQL): refused although never used.
    await gh.db.query(
      "UPDATE webauthn_challenges SET expires_at = now() - interval '1 second' WHERE user_id = $1",
      [alice.user.id],
    );
    await expectRpcError(
      call(
        gh.auth,
        'finishPasskeyRegistration',
        { responseJson, displayName: '' },
        { token: alice.tokens.accessToken },
      ),
      status.INVALID_ARGUMENT,
      'PASSKEY_REGISTRATION_FAILED',
    );
    assert.equal(
      (await call(gh.auth, 'listPasskeys', {}, { token: alice.tokens.accessToken })).passkeys
        .length,
      0,
    );
    for (const bad of ['', 'not json', '[]', '{"id":"x"}']) {
      const s = await expectRpcError(
        call(
          gh.auth,
          'finishPasskeyRegistration',
          { responseJson: bad, displayName: '' },
          { token: alice.tokens.accessToken },
        ),
        status.INVALID_ARGUMENT,
        'VALIDATION_FAILED',
      );
      assert.equal(s.fieldViolations?.[0]?.field, 'response_json', bad);
    }
    await expectRpcError(
      call(
        gh.auth,
        'finishPasskeyRegistration',
        { responseJson, displayName: 'x'.repeat(65) },
        { token: alice.tokens.accessToken },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
  });

  it('is a second factor: Login answers mfa_required, the passkey completes it', async () => {
    const u = await userWithPasskey();
    const first = await call(
      gh.auth,
      'login',
      { identifier: u.email, password: PASSWORD },
      { metadata: HOME },
    );
    assert.equal(first.tokens, undefined, 'a passkey alone makes Login ask for a second factor');
    assert.ok(first.mfaRequired);
    assert.deepEqual(first.mfaRequired.methods, [MfaMethod.MFA_METHOD_PASSKEY]);
    const challengeToken = first.mfaRequired.challengeToken;

    // From another address the challenge dies.
    const other = await call(
      gh.auth,
      'login',
      { identifier: u.email, password: PASSWORD },
      { metadata: HOME },
    );
    assert.ok(other.mfaRequired);
    await expectRpcError(
      call(
        gh.auth,
        'startMfaPasskey',
        { challengeToken: other.mfaRequired.challengeToken },
        { metadata: ELSEWHERE },
      ),
      status.UNAUTHENTICATED,
      'MFA_CHALLENGE_INVALID',
    );

    const { optionsJson } = await call(
      gh.auth,
      'startMfaPasskey',
      { challengeToken },
      { metadata: HOME },
    );
    const options = JSON.parse(optionsJson) as RequestOptions;
    assert.equal(options.rpId, 'localhost');
    assert.deepEqual(
      options.allowCredentials?.map((c) => c.id),
      [u.passkey.credentialId],
    );
    const assertion = await u.authenticator.get(optionsJson);
    const done = await call(
      gh.auth,
      'completeMfaLogin',
      { challengeToken, factor: { $case: 'passkeyResponseJson', value: assertion } },
      { metadata: HOME },
    );
    assert.equal(done.user?.id, u.user.id);
    const claims = claimsOf(done.tokens);
    assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
    assert.ok(typeof claims.auth_time === 'number');
    assert.ok((await storedCounter(u.passkey.id)) > 0, 'the signature counter is stored');
    const verify = await auditRows(u.user.id, 'mfa_verify');
    assert.equal(verify.at(-1)?.outcome, 'success');
    assert.equal(verify.at(-1)?.details.method, 'passkey');

    // Single use: the same assertion (and challenge) cannot open a second session.
    await expectRpcError(
      call(
        gh.auth,
        'completeMfaLogin',
        { challengeToken, factor: { $case: 'passkeyResponseJson', value: assertion } },
        { metadata: HOME },
      ),
      status.UNAUTHENTICATED,
      'MFA_CHALLENGE_INVALID',
    );
  });

  it('refuses a second-factor assertion for another challenge and counts it as a failure', async () => {
    const u = await userWithPasskey();
    const login = () =>
      call(gh.auth, 'login', { identifier: u.email, password: PASSWORD }, { metadata: HOME });
    const a = (await login()).mfaRequired;
    const b = (await login()).mfaRequired;
    assert.ok(a && b);
    const optionsA = await call(
      gh.auth,
      'startMfaPasskey',
      { challengeToken: a.challengeToken },
      { metadata: HOME },
    );
    const assertionForA = await u.authenticator.get(optionsA.optionsJson);
    const before = await failedLogins(u.user.id);
    await expectRpcError(
      call(
        gh.auth,
        'completeMfaLogin',
        {
          challengeToken: b.challengeToken,
          factor: { $case: 'passkeyResponseJson', value: assertionForA },
        },
        { metadata: HOME },
      ),
      status.UNAUTHENTICATED,
      'MFA_CODE_REJECTED',
    );
    assert.equal(await failedLogins(u.user.id), (before ?? 0) + 1, 'counts toward the lockout');
    // The assertion still completes the challenge it was made for.
    const done = await call(
      gh.auth,
      'completeMfaLogin',
      {
        challengeToken: a.challengeToken,
        factor: { $case: 'passkeyResponseJson', value: assertionForA },
      },
      { metadata: HOME },
    );
    assert.equal(done.user?.id, u.user.id);
    assert.equal(await failedLogins(u.user.id), 0, 'a completed login clears the failures');
  });

  it('signs in without a password and without an identifier (discoverable credential)', async () => {
    const u = await userWithPasskey();
    const login = await passwordlessLogin(u.authenticator);
    const options = JSON.parse(login.start.optionsJson) as RequestOptions;
    assert.equal(options.rpId, 'localhost');
    assert.deepEqual(options.allowCredentials ?? [], []);
    assert.match(login.start.challengeId, /^ghwc_[A-Za-z0-9_-]{43}$/);
    const res = await login.finish();
    assert.equal(res.user?.id, u.user.id);
    const claims = claimsOf(res.tokens);
    // Possession of a device-bound key plus user verification by the authenticator.
    assert.deepEqual(claims.amr, ['hwk', 'mfa']);
    assert.ok(Math.abs((claims.auth_time as number) - Date.now() / 1000) < 120);
    const validated = await call(gh.auth, 'validateToken', {
      accessToken: res.tokens?.accessToken ?? '',
    });
    assert.deepEqual(validated.amr, ['hwk', 'mfa']);
    assert.equal((await auditRows(u.user.id, 'passkey_login')).at(-1)?.outcome, 'success');
    const listed = await call(gh.auth, 'listPasskeys', {}, { token: u.token });
    assert.ok(listed.passkeys[0]?.lastUsedTime, 'last use recorded');

    // The challenge is single-use.
    await expectRpcError(login.finish(), status.UNAUTHENTICATED, 'PASSKEY_LOGIN_FAILED');
  });

  it('signs in with an identifier; unknown identifiers get options of the same shape', async () => {
    const u = await userWithPasskey();
    const login = await passwordlessLogin(u.authenticator, u.email.toUpperCase());
    const options = JSON.parse(login.start.optionsJson) as RequestOptions;
    assert.deepEqual(
      options.allowCredentials?.map((c) => c.id),
      [u.passkey.credentialId],
    );
    assert.equal((await login.finish()).user?.id, u.user.id);

    const unknown = uniqueEmail('nobody');
    const starts = await Promise.all(
      [unknown, unknown].map((identifier) =>
        call(gh.auth, 'startPasskeyLogin', { identifier }, { metadata: HOME }),
      ),
    );
    const decoys = starts.map((s) => JSON.parse(s.optionsJson) as RequestOptions);
    assert.equal(decoys[0]?.allowCredentials?.length, 1, 'one credential, like a real account');
    assert.equal(
      decoys[0]?.allowCredentials?.[0]?.id,
      decoys[1]?.allowCredentials?.[0]?.id,
      'stable per identifier, so repeating the call reveals nothing',
    );
    assert.deepEqual(Object.keys(decoys[0] ?? {}).sort(), Object.keys(options).sort());
    assert.deepEqual(
      Object.keys(decoys[0]?.allowCredentials?.[0] ?? {}),
      Object.keys(options.allowCredentials?.[0] ?? {}),
    );
    // An account without passkeys answers like an unknown one.
    const plain = await registerUser(gh);
    const plainStart = await call(
      gh.auth,
      'startPasskeyLogin',
      { identifier: plain.email },
      { metadata: HOME },
    );
    const plainOptions = JSON.parse(plainStart.optionsJson) as RequestOptions;
    assert.equal(plainOptions.allowCredentials?.length, 1);

    // A passkey of another account does not answer a challenge for this identifier.
    const other = await userWithPasskey();
    const forU = await call(
      gh.auth,
      'startPasskeyLogin',
      { identifier: u.email },
      { metadata: HOME },
    );
    // The other authenticator holds no credential in allowCredentials, so sign with it against
    // a discoverable challenge and present that answer for u's challenge: refused.
    const discoverable = await passwordlessLogin(other.authenticator);
    await expectRpcError(
      call(
        gh.auth,
        'finishPasskeyLogin',
        { challengeId: forU.challengeId, responseJson: discoverable.responseJson },
        { metadata: HOME },
      ),
      status.UNAUTHENTICATED,
      'PASSKEY_LOGIN_FAILED',
    );
  });

  it('refuses a cloned authenticator (signature counter regression), audits it, keeps the passkey', async () => {
    const u = await userWithPasskey();
    // Two sign-ins move the counter on.
    await (await passwordlessLogin(u.authenticator)).finish();
    await (await passwordlessLogin(u.authenticator)).finish();
    const counter = await storedCounter(u.passkey.id);
    assert.ok(counter >= 2, `stored counter ${counter}`);

    // Export the credential and add it, with a lower counter, to a second authenticator.
    const [original] = await u.authenticator.credentials();
    assert.ok(original);
    const clone = await browser.newAuthenticatorPage();
    await clone.addCredential({ ...original, signCount: counter - 1 });

    const before = await failedLogins(u.user.id);
    const cloned = await passwordlessLogin(clone);
    await expectRpcError(cloned.finish(), status.UNAUTHENTICATED, 'PASSKEY_LOGIN_FAILED');
    const [regression] = await auditRows(u.user.id, 'passkey_counter_regression');
    assert.ok(regression, 'audited');
    assert.equal(regression.details.passkey_id, u.passkey.id);
    assert.equal(regression.details.stored_counter, counter);
    assert.equal(regression.details.presented_counter, counter);
    assert.equal(await storedCounter(u.passkey.id), counter, 'the stored counter is unchanged');
    assert.equal(await failedLogins(u.user.id), (before ?? 0) + 1, 'counts as a failed login');
    const failure = (await auditRows(u.user.id, 'passkey_login')).at(-1);
    assert.equal(failure?.outcome, 'failure');
    assert.equal(failure?.details.passkey_failure, 'counter_regression');

    // The passkey is kept, and the genuine authenticator still signs in.
    const listed = await call(gh.auth, 'listPasskeys', {}, { token: u.token });
    assert.deepEqual(
      listed.passkeys.map((p) => p.id),
      [u.passkey.id],
    );
    assert.equal((await (await passwordlessLogin(u.authenticator)).finish()).user?.id, u.user.id);
  });

  it('refuses expired, reused, foreign-address and unknown login challenges', async () => {
    const u = await userWithPasskey();
    // With the identifier, the challenge names the account, so its audit row does too.
    const expired = await passwordlessLogin(u.authenticator, u.email);
    await gh.db.query(
      "UPDATE webauthn_challenges SET expires_at = now() - interval '1 second' WHERE user_id = $1 AND purpose = 'login'",
      [u.user.id],
    );
    await expectRpcError(expired.finish(), status.UNAUTHENTICATED, 'PASSKEY_LOGIN_FAILED');
    assert.equal(
      (await auditRows(u.user.id, 'passkey_login')).at(-1)?.details.reason,
      'challenge_not_live',
    );

    const elsewhere = await passwordlessLogin(u.authenticator);
    await expectRpcError(
      call(
        gh.auth,
        'finishPasskeyLogin',
        { challengeId: elsewhere.start.challengeId, responseJson: elsewhere.responseJson },
        { metadata: ELSEWHERE },
      ),
      status.UNAUTHENTICATED,
      'PASSKEY_LOGIN_FAILED',
    );
    // Used up by that call: not even the right address gets in now.
    await expectRpcError(elsewhere.finish(), status.UNAUTHENTICATED, 'PASSKEY_LOGIN_FAILED');

    const fresh = await passwordlessLogin(u.authenticator);
    await expectRpcError(
      call(
        gh.auth,
        'finishPasskeyLogin',
        { challengeId: `ghwc_${'A'.repeat(43)}`, responseJson: fresh.responseJson },
        { metadata: HOME },
      ),
      status.UNAUTHENTICATED,
      'PASSKEY_LOGIN_FAILED',
    );
    const bad = await expectRpcError(
      call(
        gh.auth,
        'finishPasskeyLogin',
        { challengeId: fresh.start.challengeId, responseJson: '{}' },
        { metadata: HOME },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(bad.fieldViolations?.[0]?.field, 'response_json');
    await expectRpcError(
      call(gh.auth, 'finishPasskeyLogin', { challengeId: '', responseJson: fresh.responseJson }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    // The untouched challenge still works.
    assert.equal((await fresh.finish()).user?.id, u.user.id);
  });

  it('lists, renames and deletes passkeys; deleting the last one ends the second step', async () => {
    const u = await userWithPasskey('First');
    // The same authenticator refuses to register twice (excludeCredentials); a second one can.
    await assert.rejects(
      u.authenticator.create(
        (await call(gh.auth, 'startPasskeyRegistration', {}, { token: u.token })).optionsJson,
      ),
      /InvalidStateError|excluded|already/i,
    );
    const phone = await browser.newAuthenticatorPage();
    const second = await phone.create(
      (await call(gh.auth, 'startPasskeyRegistration', {}, { token: u.token })).optionsJson,
    );
    const added = await call(
      gh.auth,
      'finishPasskeyRegistration',
      { responseJson: second, displayName: '' },
      { token: u.token },
    );
    assert.equal(added.passkey?.displayName, 'Passkey', 'the default name');
    const listed = await call(gh.auth, 'listPasskeys', {}, { token: u.token });
    assert.deepEqual(
      listed.passkeys.map((p) => p.id),
      [added.passkey?.id, u.passkey.id],
      'newest first',
    );

    const renamed = await call(
      gh.auth,
      'renamePasskey',
      { passkeyId: u.passkey.id, displayName: 'Phone' },
      { token: u.token },
    );
    assert.equal(renamed.passkey?.displayName, 'Phone');
    assert.equal(
      (await call(gh.auth, 'listPasskeys', {}, { token: u.token })).passkeys.find(
        (p) => p.id === u.passkey.id,
      )?.displayName,
      'Phone',
    );
    assert.equal((await auditRows(u.user.id, 'passkey_rename')).length, 1);
    await expectRpcError(
      call(
        gh.auth,
        'renamePasskey',
        { passkeyId: u.passkey.id, displayName: ' ' },
        { token: u.token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    await expectRpcError(
      call(
        gh.auth,
        'renamePasskey',
        { passkeyId: 'not-a-uuid', displayName: 'x' },
        { token: u.token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );

    // Another user cannot see, rename or delete it.
    const mallory = await registerUser(gh);
    const mt = mallory.tokens.accessToken;
    assert.deepEqual((await call(gh.auth, 'listPasskeys', {}, { token: mt })).passkeys, []);
    await expectRpcError(
      call(gh.auth, 'renamePasskey', { passkeyId: u.passkey.id, displayName: 'x' }, { token: mt }),
      status.NOT_FOUND,
      'PASSKEY_NOT_FOUND',
    );
    await expectRpcError(
      call(gh.auth, 'deletePasskey', { passkeyId: u.passkey.id }, { token: mt }),
      status.NOT_FOUND,
      'PASSKEY_NOT_FOUND',
    );

    for (const p of (await call(gh.auth, 'listPasskeys', {}, { token: u.token })).passkeys) {
      await call(gh.auth, 'deletePasskey', { passkeyId: p.id }, { token: u.token });
    }
    assert.deepEqual((await call(gh.auth, 'listPasskeys', {}, { token: u.token })).passkeys, []);
    assert.ok((await auditRows(u.user.id, 'passkey_delete')).length >= 1);
    await expectRpcError(
      call(gh.auth, 'deletePasskey', { passkeyId: u.passkey.id }, { token: u.token }),
      status.NOT_FOUND,
      'PASSKEY_NOT_FOUND',
    );
    const plain = await call(
      gh.auth,
      'login',
      { identifier: u.email, password: PASSWORD },
      { metadata: HOME },
    );
    assert.ok(plain.tokens, 'without a passkey Login opens a session again');
    assert.equal(plain.mfaRequired, undefined);
    // A deleted passkey signs in no more.
    const gone = await passwordlessLogin(u.authenticator);
    await expectRpcError(gone.finish(), status.UNAUTHENTICATED, 'PASSKEY_LOGIN_FAILED');
  });

  /** Moves the user's sessions' authentication an hour into the past (no waiting). */
  const age = (userId: string) =>
    gh.db.query(`UPDATE sessions SET auth_time = now() - interval '1 hour' WHERE user_id = $1`, [
      userId,
    ]);
  const reauth = (
    token: string,
    factor?: { $case: 'totpCode'; value: string } | { $case: 'passkeyResponseJson'; value: string },
    password = PASSWORD,
  ) => call(gh.auth, 'reauthenticate', { password, factor }, { token });
  /** An assertion of `authenticator` to fresh StartReauthenticationPasskey options of `token`. */
  const reauthAssertion = async (authenticator: AuthenticatorPage, token: string) => {
    const { optionsJson } = await call(gh.auth, 'startReauthenticationPasskey', {}, { token });
    return {
      options: JSON.parse(optionsJson) as RequestOptions,
      factor: {
        $case: 'passkeyResponseJson' as const,
        value: await authenticator.get(optionsJson),
      },
    };
  };
  const createKey = (token: string) =>
    call(gh.apiKeys, 'createApiKey', { displayName: 'step-up', roles: [] }, { token });

  it('steps up a passkey-only user with the password and a passkey, never the password alone', async () => {
    const u = await userWithPasskey();
    await age(u.user.id);
    await expectRpcError(
      createKey(u.token),
      status.FAILED_PRECONDITION,
      'REAUTHENTICATION_REQUIRED',
    );

    // The passkey is a second factor: the password alone is refused, naming the field.
    const alone = await expectRpcError(
      reauth(u.token),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      alone.fieldViolations?.map((v) => v.field),
      ['passkey_response_json'],
    );
    // A code of a factor it does not have is refused too.
    const code = await expectRpcError(
      reauth(u.token, { $case: 'totpCode', value: '123456' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      code.fieldViolations?.map((v) => v.field),
      ['totp_code'],
    );
    await expectRpcError(
      reauth(u.token, { $case: 'passkeyResponseJson', value: '{"id":1}' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    await expectRpcError(
      createKey(u.token),
      status.FAILED_PRECONDITION,
      'REAUTHENTICATION_REQUIRED',
    );

    const { options, factor } = await reauthAssertion(u.authenticator, u.token);
    assert.equal(options.rpId, 'localhost');
    assert.deepEqual(
      options.allowCredentials?.map((c) => c.id),
      [JSON.parse(u.responseJson).id],
      "the options list the caller's passkey",
    );
    const before = await failedLogins(u.user.id);
    const stepped = await reauth(u.token, factor);
    assert.deepEqual(stepped.amr, ['pwd', 'hwk', 'mfa']);
    const claims = decodeJwt(stepped.accessToken);
    assert.deepEqual(claims.amr, ['pwd', 'hwk', 'mfa']);
    const authTime = Number(claims.auth_time) * 1000;
    assert.ok(authTime > Date.now() - 30 * 60_000, 'auth_time moved from an hour ago to now');
    assert.equal(Math.floor((stepped.authTime?.getTime() ?? 0) / 1000) * 1000, authTime);
    // The session's stored auth_time counts: the old access token passes the sensitive call too.
    assert.ok((await createKey(u.token)).secret);
    const [success] = (await auditRows(u.user.id, 'reauthenticate')).filter(
      (r) => r.outcome === 'success',
    );
    assert.equal(success?.details.method, 'passkey');
    assert.equal(success?.details.passkey_id, u.passkey.id);

    // The challenge was used up: the same assertion again is refused, and counts as a failure.
    await age(u.user.id);
    await expectRpcError(
      reauth(u.token, factor),
      status.INVALID_ARGUMENT,
      'REAUTHENTICATION_FAILED',
    );
    assert.equal(await failedLogins(u.user.id), (before ?? 0) + 1, 'counts toward the lockout');
    const failure = (await auditRows(u.user.id, 'reauthenticate')).at(-1);
    assert.equal(failure?.outcome, 'failure');
    assert.equal(failure?.details.code_failure, 'unknown_challenge');
    await expectRpcError(
      createKey(u.token),
      status.FAILED_PRECONDITION,
      'REAUTHENTICATION_REQUIRED',
    );

    // Another session of the same user cannot use this session's challenge.
    const other = await (await passwordlessLogin(u.authenticator)).finish();
    const otherToken = other.tokens?.accessToken ?? '';
    const mine = await reauthAssertion(u.authenticator, u.token);
    await expectRpcError(
      reauth(otherToken, mine.factor),
      status.INVALID_ARGUMENT,
      'REAUTHENTICATION_FAILED',
    );
    // Nor a wrong password with a good assertion; a fresh challenge with the password passes.
    const fresh = await reauthAssertion(u.authenticator, u.token);
    await expectRpcError(
      reauth(u.token, fresh.factor, 'not the password'),
      status.INVALID_ARGUMENT,
      'REAUTHENTICATION_FAILED',
    );
    const again = await reauthAssertion(u.authenticator, u.token);
    assert.deepEqual((await reauth(u.token, again.factor)).amr, ['pwd', 'hwk', 'mfa']);
    await call(gh.auth, 'deletePasskey', { passkeyId: u.passkey.id }, { token: u.token });

    // Without a passkey there are no options to ask for.
    await expectRpcError(
      call(gh.auth, 'startReauthenticationPasskey', {}, { token: u.token }),
      status.NOT_FOUND,
      'PASSKEY_NOT_FOUND',
    );
  });

  it('lets a TOTP user step up with a passkey instead of a code', async () => {
    const u = await userWithPasskey();
    const started = await call(gh.auth, 'startTotpEnrollment', {}, { token: u.token });
    const confirmed = await atStableStep((step) =>
      settle(
        call(
          gh.auth,
          'confirmTotpEnrollment',
          { code: totpCode(started.secret, step) },
          { token: u.token },
        ),
      ),
    );
    assert.ok(confirmed.ok, `enrolment confirmed: ${String(!confirmed.ok && confirmed.error)}`);
    await age(u.user.id);
    const alone = await expectRpcError(
      reauth(u.token),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      alone.fieldViolations?.map((v) => v.field),
      ['totp_code'],
    );
    const { factor } = await reauthAssertion(u.authenticator, u.token);
    assert.deepEqual((await reauth(u.token, factor)).amr, ['pwd', 'hwk', 'mfa']);
    assert.ok((await createKey(u.token)).secret);
  });

  it('refuses a cloned authenticator at step-up, audits the regression, counts the failure', async () => {
    const u = await userWithPasskey();
    await (await passwordlessLogin(u.authenticator)).finish();
    await (await passwordlessLogin(u.authenticator)).finish();
    const counter = await storedCounter(u.passkey.id);
    assert.ok(counter >= 2, `stored counter ${counter}`);
    const [original] = await u.authenticator.credentials();
    assert.ok(original);
    const clone = await browser.newAuthenticatorPage();
    await clone.addCredential({ ...original, signCount: counter - 1 });

    await age(u.user.id);
    const before = await failedLogins(u.user.id);
    const { factor } = await reauthAssertion(clone, u.token);
    await expectRpcError(
      reauth(u.token, factor),
      status.INVALID_ARGUMENT,
      'REAUTHENTICATION_FAILED',
    );
    const regression = (await auditRows(u.user.id, 'passkey_counter_regression')).at(-1);
    assert.equal(regression?.details.purpose, 'reauthentication');
    assert.equal(regression?.details.passkey_id, u.passkey.id);
    assert.equal(regression?.details.stored_counter, counter);
    assert.equal(await storedCounter(u.passkey.id), counter, 'the stored counter is unchanged');
    assert.equal(await failedLogins(u.user.id), (before ?? 0) + 1, 'counts toward the lockout');
    assert.equal(
      (await auditRows(u.user.id, 'reauthenticate')).at(-1)?.details.code_failure,
      'counter_regression',
    );
    await expectRpcError(
      createKey(u.token),
      status.FAILED_PRECONDITION,
      'REAUTHENTICATION_REQUIRED',
    );
  });

  it('authorization matrix: the self-service calls need a user session, the sign-in calls none', async () => {
    const selfService = [
      ['startPasskeyRegistration', {}],
      ['finishPasskeyRegistration', { responseJson: '{}', displayName: '' }],
      ['listPasskeys', {}],
      ['renamePasskey', { passkeyId: '00000000-0000-4000-8000-000000000000', displayName: 'x' }],
      ['deletePasskey', { passkeyId: '00000000-0000-4000-8000-000000000000' }],
      ['startReauthenticationPasskey', {}],
    ] as const;
    for (const [method, request] of selfService) {
      for (const token of [undefined, 'not-a-token']) {
        await expectRpcError(
          // biome-ignore lint/suspicious/noExplicitAny: one loop over several request types
          call(gh.auth, method, request as any, token === undefined ? {} : { token }),
          status.UNAUTHENTICATED,
          'INVALID_ACCESS_TOKEN',
        );
      }
    }
    // Anonymous: no credential needed (and none is taken instead of the proof).
    const start = await call(gh.auth, 'startPasskeyLogin', {}, { metadata: HOME });
    assert.ok(start.challengeId);
    await expectRpcError(
      call(gh.auth, 'startMfaPasskey', { challengeToken: `ghm_${'A'.repeat(43)}` }),
      status.UNAUTHENTICATED,
      'MFA_CHALLENGE_INVALID',
    );
    await expectRpcError(
      call(gh.auth, 'startMfaPasskey', { challengeToken: '' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
  });
});

describe('passkeys in production without a relying party', () => {
  it('refuses passkey calls with PASSKEYS_NOT_CONFIGURED until WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS are set', async () => {
    const gh = await startGatehouse({
      NODE_ENV: 'production',
      MAIL_TRANSPORT: 'log',
      WEBAUTHN_RP_ID: 'example.com',
    });
    try {
      const reg = await registerUser(gh);
      await expectRpcError(
        call(gh.auth, 'startPasskeyRegistration', {}, { token: reg.tokens.accessToken }),
        status.FAILED_PRECONDITION,
        'PASSKEYS_NOT_CONFIGURED',
      );
      await expectRpcError(
        call(gh.auth, 'startPasskeyLogin', {}),
        status.FAILED_PRECONDITION,
        'PASSKEYS_NOT_CONFIGURED',
      );
      // Password sign-in is unaffected.
      const login = await call(gh.auth, 'login', { identifier: reg.email, password: PASSWORD });
      assert.ok(login.tokens);
    } finally {
      await gh.stop();
    }
  });
});
