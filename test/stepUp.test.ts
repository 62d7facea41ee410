import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import { User } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { eventually } from './helpers/eventually.ts';
import { expectRpcError, rpcStatus } from './helpers/rpcError.ts';
import { SmtpReceiver, tokenFromLink } from './helpers/smtpReceiver.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { atStableStep, settle, totpCode } from './helpers/totp.ts';
import { PASSWORD, registerUser } from './helpers/users.ts';

const LIST_USERS = { pageSize: 0, pageToken: '', query: '', role: '', status: 0 } as const;
const RESET_URL = 'https://app.example.com/reset';
const NEW_PASSWORD = 'quartz-lantern-meadow-42';

/** A user registered through the RPC, with a confirmed TOTP authenticator. */
async function enrolledUser(gh: Gatehouse, token?: string) {
  const reg = await registerUser(gh);
  const bearer = token ?? reg.tokens.accessToken;
  return { ...reg, ...(await enrol(gh, bearer)) };
}

/** Enrols TOTP for the caller of `token`: the secret and the recovery codes. */
async function enrol(gh: Gatehouse, token: string) {
  const started = await call(gh.auth, 'startTotpEnrollment', {}, { token });
  const confirmed = await atStableStep((s) =>
    settle(
      call(gh.auth, 'confirmTotpEnrollment', { code: totpCode(started.secret, s - 1) }, { token }),
    ),
  );
  assert.ok(confirmed.ok, `enrolment confirmed: ${String(!confirmed.ok && confirmed.error)}`);
  return { secret: started.secret, recoveryCodes: confirmed.value.recoveryCodes };
}

describe('step-up: requires_recent_auth and Reauthenticate', () => {
  let smtp: SmtpReceiver;
  let gh: Gatehouse;
  before(async () => {
    smtp = await SmtpReceiver.start();
    gh = await startGatehouse({
      LOCKOUT_THRESHOLD: '3',
      LOCKOUT_BASE_SEC: '600',
      LOCKOUT_MAX_SEC: '600',
      SMTP_URL: smtp.url,
      SMTP_FROM: 'Accounts <accounts@acme.test>',
      PASSWORD_RESET_URL: RESET_URL,
      MAIL_POLL_INTERVAL_MS: '100',
    });
  });
  after(async () => {
    try {
      await gh?.stop();
    } finally {
      await smtp?.stop();
    }
  });

  /** Moves the user's sessions' authentication an hour into the past (no waiting). */
  const age = (userId: string) =>
    gh.db.query(`UPDATE sessions SET auth_time = now() - interval '1 hour' WHERE user_id = $1`, [
      userId,
    ]);
  const forgetUsedStep = (userId: string) =>
    gh.db.query('UPDATE user_totp_factors SET last_used_step = NULL WHERE user_id = $1', [userId]);
  const reauth = (
    token: string,
    password: string,
    factor?: { $case: 'totpCode'; value: string } | { $case: 'recoveryCode'; value: string },
  ) => call(gh.auth, 'reauthenticate', { password, factor }, { token });
  const auditRows = async (userId: string, action: string) =>
    (
      await gh.db.query<{ outcome: string; details: Record<string, unknown> }>(
        `SELECT outcome, details FROM audit_events
         WHERE action = $2 AND (subject_user_id = $1 OR actor_user_id = $1) ORDER BY id`,
        [userId, action],
      )
    ).map((r) => ({ outcome: r.outcome, details: r.details }));

  it('a fresh session passes; an old one is refused on every sensitive call until it reauthenticates', async () => {
    const u = await enrolledUser(gh);
    const token = u.tokens.accessToken;
    // Fresh (Register's session authenticated just now): a sensitive call passes.
    const key = await call(
      gh.apiKeys,
      'createApiKey',
      { displayName: 'fresh', roles: [] },
      { token },
    );
    assert.ok(key.apiKey?.id);

    await age(u.user.id);
    const sensitive: [string, () => Promise<unknown>][] = [
      [
        'ChangePassword',
        () =>
          call(
            gh.auth,
            'changePassword',
            { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
            { token },
          ),
      ],
      [
        'DisableTotp',
        () =>
          call(
            gh.auth,
            'disableTotp',
            { factor: { $case: 'recoveryCode', value: u.recoveryCodes[0] ?? '' } },
            { token },
          ),
      ],
      [
        'RegenerateRecoveryCodes',
        () =>
          call(
            gh.auth,
            'regenerateRecoveryCodes',
            { factor: { $case: 'recoveryCode', value: u.recoveryCodes[0] ?? '' } },
            { token },
          ),
      ],
      [
        // Refused before the passkey is looked up: the id need not exist.
        'DeletePasskey',
        () => call(gh.auth, 'deletePasskey', { passkeyId: randomUUID() }, { token }),
      ],
      [
        'CreateApiKey',
        () => call(gh.apiKeys, 'createApiKey', { displayName: 'old', roles: [] }, { token }),
      ],
      [
        'RotateApiKey',
        () => call(gh.apiKeys, 'rotateApiKey', { apiKeyId: key.apiKey?.id ?? '' }, { token }),
      ],
    ];
    for (const [name, pending] of sensitive) {
      const s = await expectRpcError(
        pending(),
        status.FAILED_PRECONDITION,
        'REAUTHENTICATION_REQUIRED',
      );
      assert.match(s.message, /Reauthenticate/, `${name} says what to do`);
    }
    // Nothing happened: the codes are unused, the password unchanged, one key.
    const factors = await call(gh.auth, 'listAuthFactors', {}, { token });
    assert.equal(factors.recoveryCodesRemaining, 10, 'calls that need no step-up still work');
    assert.equal(
      (await call(gh.apiKeys, 'listApiKeys', { pageSize: 0, pageToken: '' }, { token })).apiKeys
        .length,
      1,
    );

    // An enrolled user must present the second factor with the password.
    const noCode = await expectRpcError(
      reauth(token, PASSWORD),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      noCode.fieldViolations?.map((v) => v.field),
      ['totp_code'],
    );
    await forgetUsedStep(u.user.id);
    const again = await atStableStep((s) =>
      settle(reauth(token, PASSWORD, { $case: 'totpCode', value: totpCode(u.secret, s) })),
    );
    assert.ok(again.ok, `reauthenticated: ${String(!again.ok && again.error)}`);
    assert.deepEqual(again.value.amr, ['pwd', 'otp', 'mfa']);
    const claims = decodeJwt(again.value.accessToken);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.ok(Math.abs(Number(claims.auth_time) * 1000 - Date.now()) < 120_000, 'auth_time is now');
    const validated = await call(gh.auth, 'validateToken', {
      accessToken: again.value.accessToken,
    });
    assert.equal(
      validated.authTime?.getTime(),
      Math.floor((again.value.authTime?.getTime() ?? 0) / 1000) * 1000,
      'ValidateToken answers the new auth_time (in seconds, as the claim holds it)',
    );

    // The session's stored auth_time counts: the old access token passes too.
    await call(gh.apiKeys, 'createApiKey', { displayName: 'after', roles: [] }, { token });
    await call(
      gh.auth,
      'regenerateRecoveryCodes',
      { factor: { $case: 'recoveryCode', value: u.recoveryCodes[1] ?? '' } },
      { token: again.value.accessToken },
    );
    assert.deepEqual(
      (await auditRows(u.user.id, 'reauthenticate')).map((r) => [r.outcome, r.details.method]),
      [['success', 'totp']],
    );
  });

  it('a password alone reauthenticates a user without a second factor; a code is refused', async () => {
    const u = await registerUser(gh);
    const token = u.tokens.accessToken;
    await age(u.user.id);
    await expectRpcError(
      call(gh.apiKeys, 'createApiKey', { displayName: 'k', roles: [] }, { token }),
      status.FAILED_PRECONDITION,
      'REAUTHENTICATION_REQUIRED',
    );
    await expectRpcError(
      reauth(token, PASSWORD, { $case: 'totpCode', value: '123456' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    const r = await reauth(token, PASSWORD);
    assert.deepEqual(r.amr, ['pwd']);
    assert.equal(r.tokenType, 'Bearer');
    const changed = await call(
      gh.auth,
      'changePassword',
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      { token: r.accessToken },
    );
    assert.ok(changed.tokens?.accessToken, 'ChangePassword passes after Reauthenticate');
  });

  it('a recovery code reauthenticates, and is used up', async () => {
    const u = await enrolledUser(gh);
    await age(u.user.id);
    const code = u.recoveryCodes[0] ?? '';
    const r = await reauth(u.tokens.accessToken, PASSWORD, { $case: 'recoveryCode', value: code });
    assert.deepEqual(r.amr, ['pwd', 'mfa']);
    const factors = await call(gh.auth, 'listAuthFactors', {}, { token: r.accessToken });
    assert.equal(factors.recoveryCodesRemaining, 9);
    await age(u.user.id);
    await expectRpcError(
      reauth(u.tokens.accessToken, PASSWORD, { $case: 'recoveryCode', value: code }),
      status.INVALID_ARGUMENT,
      'REAUTHENTICATION_FAILED',
    );
  });

  it('wrong passwords and wrong codes count toward the lockout like Login failures', async () => {
    const u = await enrolledUser(gh);
    const token = u.tokens.accessToken;
    const wrong = await expectRpcError(
      reauth(token, 'not-the-password-at-all', { $case: 'totpCode', value: '000000' }),
      status.INVALID_ARGUMENT,
      'REAUTHENTICATION_FAILED',
    );
    const wrongCode = await expectRpcError(
      reauth(token, PASSWORD, { $case: 'recoveryCode', value: 'AAAA-BBBB-CCCC' }),
      status.INVALID_ARGUMENT,
      'REAUTHENTICATION_FAILED',
    );
    assert.equal(wrongCode.message, wrong.message, 'a wrong code answers like a wrong password');
    await expectRpcError(
      reauth(token, 'still-not-the-password', { $case: 'totpCode', value: '000000' }),
      status.INVALID_ARGUMENT,
      'REAUTHENTICATION_FAILED',
    );
    // Three failures (LOCKOUT_THRESHOLD): locked; the right password no longer helps, anywhere.
    const [row] = await gh.db.query<{ locked: boolean }>(
      'SELECT locked_until > now() AS locked FROM users WHERE id = $1',
      [u.user.id],
    );
    assert.equal(row?.locked, true, 'the account is locked');
    await forgetUsedStep(u.user.id);
    const locked = await atStableStep((s) =>
      settle(reauth(token, PASSWORD, { $case: 'totpCode', value: totpCode(u.secret, s) })),
    );
    assert.equal(locked.ok, false);
    assert.equal(
      rpcStatus(!locked.ok && locked.error).errorInfo?.reason,
      'REAUTHENTICATION_FAILED',
    );
    await expectRpcError(
      call(gh.auth, 'login', { identifier: u.email, password: PASSWORD }),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );
    const failures = await auditRows(u.user.id, 'reauthenticate');
    assert.deepEqual(
      failures.map((f) => [f.outcome, f.details.reason]),
      [
        ['failure', 'wrong_password'],
        ['failure', 'wrong_second_factor'],
        ['failure', 'wrong_password'],
        ['failure', 'locked'],
      ],
    );
    assert.equal((await auditRows(u.user.id, 'account_lock')).length, 1);
  });

  it('Reauthenticate takes a session only', async () => {
    const u = await registerUser(gh);
    await expectRpcError(
      call(gh.auth, 'reauthenticate', { password: PASSWORD, factor: undefined }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    const key = await call(
      gh.apiKeys,
      'createApiKey',
      { displayName: 'k', roles: [] },
      { token: u.tokens.accessToken },
    );
    await expectRpcError(
      reauth(key.secret, PASSWORD),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    await expectRpcError(
      reauth(u.tokens.accessToken, ''),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
  });

  it('ResetUserMfa: admins only; removes the factors, revokes the sessions, audited', async () => {
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    const adminToken = (
      await call(gh.auth, 'login', { identifier: admin.email, password: PASSWORD })
    ).tokens?.accessToken;
    assert.ok(adminToken);
    const u = await enrolledUser(gh);
    const other = await registerUser(gh);
    const reset = (token?: string, userId = u.user.id) =>
      call(gh.admin, 'resetUserMfa', { userId }, token === undefined ? {} : { token });

    await expectRpcError(reset(), status.UNAUTHENTICATED, 'INVALID_ACCESS_TOKEN');
    await expectRpcError(
      reset(other.tokens.accessToken),
      status.PERMISSION_DENIED,
      'ADMIN_ROLE_REQUIRED',
    );
    await expectRpcError(reset(adminToken, 'nope'), status.INVALID_ARGUMENT, 'VALIDATION_FAILED');
    await expectRpcError(
      reset(adminToken, '00000000-0000-4000-8000-000000000000'),
      status.NOT_FOUND,
      'USER_NOT_FOUND',
    );
    const before = await call(gh.auth, 'listAuthFactors', {}, { token: u.tokens.accessToken });
    assert.equal(before.totp?.enrolled, true);

    const done = await reset(adminToken);
    assert.deepEqual(done, {
      totpRemoved: true,
      recoveryCodesRemoved: 10,
      passkeysRemoved: 0,
      revokedCount: 1,
    });
    const validated = await call(gh.auth, 'validateToken', { accessToken: u.tokens.accessToken });
    assert.equal(validated.active, false, 'the session is revoked');
    // Login is one step again: the factors are gone.
    const login = await call(gh.auth, 'login', { identifier: u.email, password: PASSWORD });
    assert.ok(login.tokens, 'a password alone signs in');
    const after = await call(gh.auth, 'listAuthFactors', {}, { token: login.tokens.accessToken });
    assert.equal(after.totp?.enrolled, false);
    assert.equal(after.recoveryCodesRemaining, 0);
    const rows = await gh.db.query<{ outcome: string; actor: string; details: object }>(
      `SELECT outcome, actor_user_id AS actor, details FROM audit_events
       WHERE action = 'user_mfa_reset' AND subject_user_id = $1 ORDER BY id`,
      [u.user.id],
    );
    assert.deepEqual(
      rows.map((r) => r.outcome),
      ['failure', 'denied', 'success'],
      'the call without a token, the refusal of a non-admin and the reset are all recorded',
    );
    assert.equal(rows[2]?.actor, admin.user.id);
    assert.deepEqual(rows[2]?.details, {
      totp_removed: true,
      recovery_codes_removed: 10,
      passkeys_removed: 0,
      revoked_count: 1,
    });
  });

  it('a password reset keeps the second factors', async () => {
    const u = await enrolledUser(gh);
    await call(gh.auth, 'requestPasswordReset', { email: u.email });
    const token = tokenFromLink((await smtp.next(u.email)).text, RESET_URL).token;
    await call(gh.auth, 'resetPassword', { token, newPassword: NEW_PASSWORD });
    const login = await call(gh.auth, 'login', { identifier: u.email, password: NEW_PASSWORD });
    assert.equal(login.tokens, undefined, 'no session from the password alone');
    assert.ok(login.mfaRequired?.challengeToken, 'the second factor is still asked for');
    const [row] = await gh.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM user_recovery_codes WHERE user_id = $1 AND used_at IS NULL`,
      [u.user.id],
    );
    assert.equal(row?.n, 10, 'the recovery codes are kept');
  });
});

describe('MFA_REQUIRED_ROLES', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse({ MFA_REQUIRED_ROLES: 'admin' });
  });
  after(async () => {
    await gh?.stop();
  });

  /** A user holding `admin` (set in SQL) and a session opened after. */
  async function adminSession() {
    const u = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [u.user.id]);
    const login = await call(gh.auth, 'login', { identifier: u.email, password: PASSWORD });
    assert.ok(login.tokens);
    return { ...u, token: login.tokens.accessToken };
  }

  it('an admin without a factor may only enrol; after confirming, the next call works', async () => {
    const a = await adminSession();
    const token = a.token;
    const me = await call(gh.auth, 'getCurrentUser', {}, { token });
    assert.deepEqual(me.user?.roles, ['admin']);
    await call(gh.auth, 'listAuthFactors', {}, { token });
    for (const pending of [
      () => call(gh.admin, 'listUsers', LIST_USERS, { token }),
      () => call(gh.auth, 'listSessions', { pageSize: 0, pageToken: '' }, { token }),
      () => call(gh.apiKeys, 'createApiKey', { displayName: 'k', roles: [] }, { token }),
      () => call(gh.auth, 'reauthenticate', { password: PASSWORD, factor: undefined }, { token }),
    ]) {
      const s = await expectRpcError(
        pending(),
        status.FAILED_PRECONDITION,
        'MFA_ENROLLMENT_REQUIRED',
      );
      assert.match(s.message, /StartTotpEnrollment/);
    }
    const validated = await call(gh.auth, 'validateToken', { accessToken: token });
    assert.equal(validated.active, true);
    assert.equal(validated.mfaEnrollmentRequired, true);

    await enrol(gh, token);
    const users = await call(gh.admin, 'listUsers', LIST_USERS, { token });
    assert.ok(users.users.length > 0, 'the admin may administer once enrolled');
    assert.equal(
      (await call(gh.auth, 'validateToken', { accessToken: token })).mfaEnrollmentRequired,
      false,
    );
  });

  it('a role granted mid-session applies within the session cache bounds', async () => {
    const granter = await adminSession();
    await enrol(gh, granter.token);
    const u = await registerUser(gh);
    const token = u.tokens.accessToken;
    await call(gh.auth, 'listSessions', { pageSize: 0, pageToken: '' }, { token });
    assert.equal(
      (await call(gh.auth, 'validateToken', { accessToken: token })).mfaEnrollmentRequired,
      false,
      'a user without the role is not held to it',
    );
    await call(
      gh.admin,
      'updateUser',
      { user: User.fromPartial({ id: u.user.id, roles: ['admin'] }), updateMask: ['roles'] },
      { token: granter.token },
    );
    await eventually(
      () => settle(call(gh.auth, 'listSessions', { pageSize: 0, pageToken: '' }, { token })),
      (r) => !r.ok && rpcStatus(r.error).errorInfo?.reason === 'MFA_ENROLLMENT_REQUIRED',
      { what: 'the granted role holds the session to enrolment' },
    );
    assert.equal(
      (await call(gh.auth, 'validateToken', { accessToken: token })).mfaEnrollmentRequired,
      true,
    );
    await enrol(gh, token);
    await call(gh.auth, 'listSessions', { pageSize: 0, pageToken: '' }, { token });
  });
});
