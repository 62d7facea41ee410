import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { decodeJwt } from 'jose';
import {
  type LoginResponse,
  MfaMethod,
  type Tokens,
} from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { orgFixtures } from './helpers/organizations.ts';
import { expectRpcError, rpcStatus } from './helpers/rpcError.ts';
import { runGatehouseToExit } from './helpers/spawnGatehouse.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { redisUrl } from './helpers/testDatabase.ts';
import { atStableStep, currentStep, hotp, settle, timeStep, totpCode } from './helpers/totp.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';

// The address tests log in from (TRUSTED_PROXIES lets the test choose it per call).
const HOME = { 'x-forwarded-for': '203.0.113.5' };
const ELSEWHERE = { 'x-forwarded-for': '198.51.100.7' };

describe('RFC 6238 reference implementation used by these tests', () => {
  it('matches the SHA-1 test vectors of RFC 6238 Appendix B', () => {
    const key = Buffer.from('12345678901234567890', 'ascii');
    const vectors: [number, string][] = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1111111111, '14050471'],
      [1234567890, '89005924'],
      [2000000000, '69279037'],
      [20000000000, '65353130'],
    ];
    for (const [t, code] of vectors) assert.equal(hotp(key, timeStep(t), 8), code, `T=${t}`);
  });
});

describe('two-factor sign-in (TOTP and recovery codes)', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse({
      TRUSTED_PROXIES: '127.0.0.1',
      LOCKOUT_THRESHOLD: '5',
      LOCKOUT_BASE_SEC: '600',
      LOCKOUT_MAX_SEC: '600',
    });
  });
  after(async () => {
    await gh.stop({ keepDatabase: true });
    await gh.db.drop();
  });

  const login = (identifier: string, password = PASSWORD, organizationId?: string) =>
    call(
      gh.auth,
      'login',
      { identifier, password, ...(organizationId ? { organizationId } : {}) },
      { metadata: HOME },
    );
  const complete = (
    challengeToken: string,
    factor: { totp: string } | { recovery: string },
    metadata = HOME,
  ) =>
    call(
      gh.auth,
      'completeMfaLogin',
      {
        challengeToken,
        factor:
          'totp' in factor
            ? { $case: 'totpCode', value: factor.totp }
            : { $case: 'recoveryCode', value: factor.recovery },
      },
      { metadata },
    );
  const challengeOf = (res: LoginResponse): string => {
    assert.equal(res.user, undefined, 'no user before the second step');
    assert.equal(res.tokens, undefined, 'no tokens before the second step');
    assert.ok(res.mfaRequired, 'mfa_required is set');
    return res.mfaRequired.challengeToken;
  };
  const factors = (token: string) => call(gh.auth, 'listAuthFactors', {}, { token });

  /** A user with a confirmed authenticator; the code of step s-1 confirmed it. */
  async function enrolledUser() {
    const reg = await registerUser(gh);
    const started = await call(
      gh.auth,
      'startTotpEnrollment',
      {},
      { token: reg.tokens.accessToken },
    );
    const confirmed = await atStableStep((s) =>
      settle(
        call(
          gh.auth,
          'confirmTotpEnrollment',
          { code: totpCode(started.secret, s - 1) },
          { token: reg.tokens.accessToken },
        ),
      ),
    );
    assert.ok(
      confirmed.ok,
      `confirmation with the previous step's code: ${String(!confirmed.ok && confirmed.error)}`,
    );
    return { ...reg, secret: started.secret, recoveryCodes: confirmed.value.recoveryCodes };
  }

  /** Forgets the last accepted step, so a test may use codes of the current window again. */
  const forgetUsedStep = (userId: string) =>
    gh.db.query('UPDATE user_totp_factors SET last_used_step = NULL WHERE user_id = $1', [userId]);

  const auditActions = async (userId: string) =>
    (
      await gh.db.query<{ action: string; outcome: string }>(
        'SELECT action, outcome FROM audit_events WHERE subject_user_id = $1 ORDER BY id',
        [userId],
      )
    ).map((r) => `${r.action}:${r.outcome}`);

  function claimsOf(tokens: Tokens | undefined) {
    assert.ok(tokens);
    return decodeJwt(tokens.accessToken) as { amr?: unknown; auth_time?: unknown; sid?: string };
  }

  it('enrols: start (pending), confirm with a current code, recovery codes, secret sealed at rest', async () => {
    const { user, tokens, email } = await registerUser(gh);
    const token = tokens.accessToken;
    const started = await call(gh.auth, 'startTotpEnrollment', {}, { token });
    assert.match(started.secret, /^[A-Z2-7]{32}$/, '160-bit base32 secret');
    const uri = new URL(started.otpauthUri);
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.host, 'totp');
    assert.equal(decodeURIComponent(uri.pathname), `/Gatehouse:${email}`);
    assert.equal(uri.searchParams.get('secret'), started.secret);
    assert.equal(uri.searchParams.get('issuer'), 'Gatehouse');

    const pending = await factors(token);
    assert.deepEqual(pending.totp?.enrolled, false);
    assert.equal(pending.totp?.enrollmentPending, true);
    assert.equal(pending.recoveryCodesRemaining, 0);
    // A pending enrolment changes nothing at login.
    assert.ok((await login(email)).tokens, 'still one step while pending');

    const [row] = await gh.db.query<{ secret_ciphertext: Buffer; key_id: string }>(
      'SELECT secret_ciphertext, key_id FROM user_totp_factors WHERE user_id = $1',
      [user.id],
    );
    assert.ok(row);
    assert.equal(row.secret_ciphertext.includes(Buffer.from(started.secret)), false);
    assert.equal(row.secret_ciphertext.toString('latin1').includes(started.secret), false);
    assert.ok(row.key_id.length > 0);

    // Starting again replaces the pending secret: the first one's codes stop working.
    const again = await call(gh.auth, 'startTotpEnrollment', {}, { token });
    assert.notEqual(again.secret, started.secret);
    const stale = await atStableStep((s) =>
      settle(
        call(gh.auth, 'confirmTotpEnrollment', { code: totpCode(started.secret, s) }, { token }),
      ),
    );
    assert.ok(!stale.ok);
    const refused = rpcStatus(stale.error);
    assert.equal(refused.grpcCode, status.INVALID_ARGUMENT);
    assert.equal(refused.errorInfo?.reason, 'INVALID_MFA_CODE');
    assert.equal(refused.fieldViolations?.[0]?.field, 'code');

    await expectRpcError(
      call(gh.auth, 'confirmTotpEnrollment', { code: '12345' }, { token }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    const confirmed = await atStableStep((s) =>
      settle(
        call(gh.auth, 'confirmTotpEnrollment', { code: totpCode(again.secret, s) }, { token }),
      ),
    );
    assert.ok(confirmed.ok);
    const codes = confirmed.value.recoveryCodes;
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    for (const c of codes)
      assert.match(c, /^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
    const hashes = await gh.db.query<{ code_hash: Buffer }>(
      'SELECT code_hash FROM user_recovery_codes WHERE user_id = $1',
      [user.id],
    );
    assert.equal(hashes.length, 10);
    for (const h of hashes) {
      for (const c of codes) assert.equal(h.code_hash.toString('latin1').includes(c), false);
    }

    const listed = await factors(token);
    assert.equal(listed.totp?.enrolled, true);
    assert.equal(listed.totp?.enrollmentPending, false);
    assert.ok(listed.totp?.confirmedAt instanceof Date);
    assert.equal(listed.recoveryCodesRemaining, 10);
    assert.equal(JSON.stringify(listed).includes(again.secret), false, 'never the secret');

    await expectRpcError(
      call(gh.auth, 'startTotpEnrollment', {}, { token }),
      status.FAILED_PRECONDITION,
      'TOTP_ALREADY_ENROLLED',
    );
    await expectRpcError(
      call(gh.auth, 'confirmTotpEnrollment', { code: '123456' }, { token }),
      status.FAILED_PRECONDITION,
      'TOTP_ALREADY_ENROLLED',
    );
    const actions = await auditActions(user.id);
    assert.ok(actions.includes('totp_enrollment_start:success'));
    assert.ok(actions.includes('totp_enrollment_confirm:failure'));
    assert.ok(actions.includes('totp_enrollment_confirm:success'));
  });

  it('logs in in two steps with TOTP: window edges, replay refused, amr and auth_time in the token', async () => {
    const { user, email, secret } = await enrolledUser();
    const first = await login(email);
    const challenge = challengeOf(first);
    assert.match(challenge, /^ghm_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(first.mfaRequired?.methods, [
      MfaMethod.MFA_METHOD_TOTP,
      MfaMethod.MFA_METHOD_RECOVERY_CODE,
    ]);
    const ttl = (first.mfaRequired?.expiresAt?.getTime() ?? 0) - Date.now();
    assert.ok(ttl > 240_000 && ttl <= 300_000, `expires in 5 minutes (${ttl} ms)`);

    // The confirmation used step s-1: that code, and any of an earlier step, is refused now.
    const replay = await atStableStep((s) =>
      settle(complete(challenge, { totp: totpCode(secret, s - 1) })),
    );
    assert.ok(!replay.ok);
    assert.equal(rpcStatus(replay.error).errorInfo?.reason, 'MFA_CODE_REJECTED');
    // Two steps away either side: refused.
    for (const delta of [-2, 2]) {
      const far = await atStableStep((s) =>
        settle(complete(challenge, { totp: totpCode(secret, s + delta) })),
      );
      assert.ok(!far.ok, `a code ${delta} steps away is refused`);
      const st = rpcStatus(far.error);
      assert.equal(st.grpcCode, status.UNAUTHENTICATED);
      assert.equal(st.errorInfo?.reason, 'MFA_CODE_REJECTED');
    }
    // The current step's code passes (a wrong code does not kill the challenge).
    const loginStarted = Math.floor(Date.now() / 1000);
    const done = await atStableStep((s) =>
      settle(complete(challenge, { totp: totpCode(secret, s) })),
    );
    assert.ok(done.ok, String(!done.ok && done.error));
    assert.equal(done.value.user?.id, user.id);
    const claims = claimsOf(done.value.tokens);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(typeof claims.auth_time, 'number');
    assert.ok(Math.abs((claims.auth_time as number) - loginStarted) <= 5);

    const validated = await call(gh.auth, 'validateToken', {
      accessToken: done.value.tokens?.accessToken ?? '',
    });
    assert.equal(validated.active, true);
    assert.deepEqual(validated.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(validated.authTime?.getTime(), (claims.auth_time as number) * 1000);
    const [session] = await gh.db.query<{ amr: string[] }>(
      'SELECT amr FROM sessions WHERE id = $1',
      [claims.sid],
    );
    assert.deepEqual(session?.amr, ['pwd', 'otp', 'mfa']);

    // Refresh keeps both.
    const refreshed = await call(gh.auth, 'refresh', {
      refreshToken: done.value.tokens?.refreshToken ?? '',
    });
    const after = claimsOf(refreshed.tokens);
    assert.deepEqual(after.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(after.auth_time, claims.auth_time);

    // The challenge was used up.
    await expectRpcError(
      complete(challenge, { totp: '000000' }),
      status.UNAUTHENTICATED,
      'MFA_CHALLENGE_INVALID',
    );
    // The next step's code passes in a new login; the same code again does not.
    const next = await atStableStep(async (s) => {
      const code = totpCode(secret, s + 1);
      const res = await settle(complete(challengeOf(await login(email)), { totp: code }));
      return { res, code };
    });
    assert.ok(next.res.ok, 'the next step is accepted');
    const replayed = await settle(complete(challengeOf(await login(email)), { totp: next.code }));
    assert.ok(!replayed.ok);
    assert.equal(rpcStatus(replayed.error).errorInfo?.reason, 'MFA_CODE_REJECTED');

    const actions = await auditActions(user.id);
    assert.ok(actions.includes('mfa_challenge:success'));
    assert.ok(actions.includes('mfa_verify:failure'));
    assert.ok(actions.includes('mfa_verify:success'));
    assert.ok(actions.includes('login:success'));
  });

  it('a password login keeps amr ["pwd"] and auth_time through ValidateToken and Refresh', async () => {
    const { tokens } = await registerUser(gh);
    const claims = claimsOf(tokens);
    assert.deepEqual(claims.amr, ['pwd']);
    const v = await call(gh.auth, 'validateToken', { accessToken: tokens.accessToken });
    assert.deepEqual(v.amr, ['pwd']);
    assert.equal(v.authTime?.getTime(), (claims.auth_time as number) * 1000);
    const r = await call(gh.auth, 'refresh', { refreshToken: tokens.refreshToken });
    assert.equal(claimsOf(r.tokens).auth_time, claims.auth_time);
  });

  it('logs in with a recovery code once; the remaining count drops', async () => {
    const { user, email, recoveryCodes, tokens } = await enrolledUser();
    const code = recoveryCodes[3] ?? '';
    // Case and dashes do not matter.
    const done = await complete(challengeOf(await login(email)), {
      recovery: code.replaceAll('-', '').toUpperCase(),
    });
    assert.deepEqual(claimsOf(done.tokens).amr, ['pwd', 'mfa']);
    assert.equal((await factors(tokens.accessToken)).recoveryCodesRemaining, 9);
    await expectRpcError(
      complete(challengeOf(await login(email)), { recovery: code }),
      status.UNAUTHENTICATED,
      'MFA_CODE_REJECTED',
    );
    const actions = await auditActions(user.id);
    assert.ok(actions.includes('recovery_code_use:success'));
  });

  it('a wrong password is answered exactly as without a second factor', async () => {
    const { email } = await enrolledUser();
    const wrong = await expectRpcError(
      login(email, 'not-the-password-at-all'),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );
    const ghost = await expectRpcError(
      login(uniqueEmail('ghost'), 'not-the-password-at-all'),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );
    assert.deepEqual(wrong.raw, ghost.raw);
  });

  it('CompleteMfaLogin refuses bad input, unknown, expired and reused challenges and other addresses', async () => {
    const { user, email, secret } = await enrolledUser();
    await expectRpcError(
      complete('', { totp: '123456' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    const noFactor = await expectRpcError(
      call(gh.auth, 'completeMfaLogin', { challengeToken: 'ghm_x' }, { metadata: HOME }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.ok(noFactor.fieldViolations?.length);
    await expectRpcError(
      complete('ghm_x', { totp: '12ab56' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    await expectRpcError(
      complete('ghm_x', { recovery: 'short' }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    await expectRpcError(
      complete(`ghm_${'A'.repeat(43)}`, { totp: '123456' }),
      status.UNAUTHENTICATED,
      'MFA_CHALLENGE_INVALID',
    );

    // Expired (5 minutes, moved into the past here) : refused even with the right code.
    const expiring = challengeOf(await login(email));
    await gh.db.query(
      `UPDATE mfa_challenges SET expires_at = now() - interval '1 second' WHERE user_id = $1`,
      [user.id],
    );
    await atStableStep((s) =>
      expectRpcError(
        complete(expiring, { totp: totpCode(secret, s) }),
        status.UNAUTHENTICATED,
        'MFA_CHALLENGE_INVALID',
      ),
    );

    // From another address: refused, and the challenge is dead for its own address too.
    const copied = challengeOf(await login(email));
    await forgetUsedStep(user.id);
    await expectRpcError(
      complete(copied, { totp: totpCode(secret, timeStep(Date.now() / 1000)) }, ELSEWHERE),
      status.UNAUTHENTICATED,
      'MFA_CHALLENGE_INVALID',
    );
    await atStableStep((s) =>
      expectRpcError(
        complete(copied, { totp: totpCode(secret, s) }),
        status.UNAUTHENTICATED,
        'MFA_CHALLENGE_INVALID',
      ),
    );

    // A wrong code leaves the challenge usable; the right one then passes; then it is used up.
    const challenge = challengeOf(await login(email));
    await expectRpcError(
      complete(challenge, { totp: totpCode(secret, currentStep() - 10) }),
      status.UNAUTHENTICATED,
      'MFA_CODE_REJECTED',
    );
    await forgetUsedStep(user.id);
    const ok = await atStableStep((s) =>
      settle(complete(challenge, { totp: totpCode(secret, s) })),
    );
    assert.ok(ok.ok);
    await expectRpcError(
      complete(challenge, { recovery: 'aaaa-bbbb-cccc' }),
      status.UNAUTHENTICATED,
      'MFA_CHALLENGE_INVALID',
    );
    // No session was opened by any refused call: only the one login above.
    const sessions = await gh.db.query('SELECT 1 FROM sessions WHERE user_id = $1 AND amr @> $2', [
      user.id,
      ['otp'],
    ]);
    assert.equal(sessions.length, 1);
  });

  it('failures at the second step lock the account like password failures', async () => {
    const { user, email, secret } = await enrolledUser();
    // Two wrong passwords, then the right one: that opens a challenge but clears nothing.
    for (let i = 0; i < 2; i++) await login(email, `wrong-password-${i}`).catch(() => {});
    const first = challengeOf(await login(email));
    for (let i = 0; i < 2; i++) {
      await expectRpcError(
        complete(first, { recovery: 'zzzz-zzzz-zzz0' }),
        status.UNAUTHENTICATED,
        'MFA_CODE_REJECTED',
      );
    }
    const [before] = await gh.db.query<{ failed_login_count: number }>(
      'SELECT failed_login_count FROM users WHERE id = $1',
      [user.id],
    );
    assert.equal(before?.failed_login_count, 4);
    // A new challenge does not start afresh: the fifth failure locks.
    const second = challengeOf(await login(email));
    await expectRpcError(
      complete(second, { recovery: 'zzzz-zzzz-zzz1' }),
      status.UNAUTHENTICATED,
      'MFA_CODE_REJECTED',
    );
    const [locked] = await gh.db.query<{ locked_until: Date | null }>(
      'SELECT locked_until FROM users WHERE id = $1',
      [user.id],
    );
    assert.ok(locked?.locked_until, 'the account is locked');
    assert.ok((await auditActions(user.id)).includes('account_lock:success'));
    // Locked: the right code is refused like a wrong one, and so is the right password.
    await forgetUsedStep(user.id);
    await atStableStep((s) =>
      expectRpcError(
        complete(second, { totp: totpCode(secret, s) }),
        status.UNAUTHENTICATED,
        'MFA_CODE_REJECTED',
      ),
    );
    await expectRpcError(login(email), status.UNAUTHENTICATED, 'INVALID_CREDENTIALS');
  });

  it('DisableTotp needs a code; afterwards Login is one step again', async () => {
    const { email, tokens, recoveryCodes, user } = await enrolledUser();
    const token = tokens.accessToken;
    const wrong = await expectRpcError(
      call(
        gh.auth,
        'disableTotp',
        { factor: { $case: 'recoveryCode', value: 'aaaa-bbbb-cccc' } },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'INVALID_MFA_CODE',
    );
    assert.equal(wrong.fieldViolations?.[0]?.field, 'recovery_code');
    await expectRpcError(
      call(gh.auth, 'disableTotp', {}, { token }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.ok(challengeOf(await login(email)));
    await call(
      gh.auth,
      'disableTotp',
      { factor: { $case: 'recoveryCode', value: recoveryCodes[0] ?? '' } },
      { token },
    );
    const listed = await factors(token);
    assert.equal(listed.totp?.enrolled, false);
    assert.equal(listed.totp?.enrollmentPending, false);
    assert.equal(listed.recoveryCodesRemaining, 0);
    const direct = await login(email);
    assert.ok(direct.tokens, 'one step again');
    assert.equal(direct.mfaRequired, undefined);
    await expectRpcError(
      call(gh.auth, 'disableTotp', { factor: { $case: 'totpCode', value: '123456' } }, { token }),
      status.FAILED_PRECONDITION,
      'TOTP_NOT_ENROLLED',
    );
    const actions = await auditActions(user.id);
    assert.ok(actions.includes('totp_disable:failure'));
    assert.ok(actions.includes('totp_disable:success'));
  });

  it('RegenerateRecoveryCodes voids the old set', async () => {
    const { email, tokens, recoveryCodes, secret, user } = await enrolledUser();
    const token = tokens.accessToken;
    await forgetUsedStep(user.id);
    const renewed = await atStableStep((s) =>
      settle(
        call(
          gh.auth,
          'regenerateRecoveryCodes',
          { factor: { $case: 'totpCode', value: totpCode(secret, s) } },
          { token },
        ),
      ),
    );
    assert.ok(renewed.ok);
    const fresh = renewed.value.recoveryCodes;
    assert.equal(fresh.length, 10);
    assert.equal(fresh.filter((c) => recoveryCodes.includes(c)).length, 0);
    await expectRpcError(
      complete(challengeOf(await login(email)), { recovery: recoveryCodes[1] ?? '' }),
      status.UNAUTHENTICATED,
      'MFA_CODE_REJECTED',
    );
    const ok = await complete(challengeOf(await login(email)), { recovery: fresh[0] ?? '' });
    assert.ok(ok.tokens);
    assert.equal((await factors(token)).recoveryCodesRemaining, 9);
    assert.ok((await auditActions(user.id)).includes('recovery_codes_regenerate:success'));
  });

  it('Login with organization_id goes through both steps and the session acts in it', async () => {
    const { user, email, secret } = await enrolledUser();
    const orgs = orgFixtures(gh.db);
    const org = await orgs.organization();
    await orgs.member(org, user.id, []);
    const outsider = await orgs.organization();
    await expectRpcError(
      login(email, PASSWORD, outsider),
      status.PERMISSION_DENIED,
      'NOT_A_MEMBER',
    );
    const challenge = challengeOf(await login(email, PASSWORD, org));
    await forgetUsedStep(user.id);
    const done = await atStableStep((s) =>
      settle(complete(challenge, { totp: totpCode(secret, s) })),
    );
    assert.ok(done.ok);
    const claims = claimsOf(done.value.tokens) as { org_id?: string; amr?: unknown };
    assert.equal(claims.org_id, org);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
  });

  it('authorization matrix: the self-service RPCs take a session only', async () => {
    const { tokens } = await registerUser(gh);
    const key = await call(
      gh.apiKeys,
      'createApiKey',
      { displayName: 'mfa matrix', roles: [] } as never,
      { token: tokens.accessToken },
    );
    const apiKey = (key as { secret: string }).secret;
    const rpcs = [
      ['startTotpEnrollment', {}],
      ['confirmTotpEnrollment', { code: '123456' }],
      ['disableTotp', { factor: { $case: 'totpCode', value: '123456' } }],
      ['regenerateRecoveryCodes', { factor: { $case: 'totpCode', value: '123456' } }],
      ['listAuthFactors', {}],
    ] as const;
    for (const [method, request] of rpcs) {
      for (const token of [undefined, apiKey, 'not-a-token']) {
        await expectRpcError(
          call(gh.auth, method, request as never, token === undefined ? {} : { token }),
          status.UNAUTHENTICATED,
          'INVALID_ACCESS_TOKEN',
        );
      }
    }
    // With a session each reaches its use case.
    const token = tokens.accessToken;
    assert.equal((await call(gh.auth, 'listAuthFactors', {}, { token })).totp?.enrolled, false);
    await expectRpcError(
      call(gh.auth, 'confirmTotpEnrollment', { code: '123456' }, { token }),
      status.FAILED_PRECONDITION,
      'TOTP_NOT_ENROLLED',
    );
    for (const method of ['disableTotp', 'regenerateRecoveryCodes'] as const) {
      await expectRpcError(
        call(gh.auth, method, { factor: { $case: 'totpCode', value: '123456' } }, { token }),
        status.FAILED_PRECONDITION,
        'TOTP_NOT_ENROLLED',
      );
    }
    assert.ok((await call(gh.auth, 'startTotpEnrollment', {}, { token })).secret);
    // CompleteMfaLogin is anonymous: a bearer token is ignored, the challenge decides.
    await expectRpcError(
      call(
        gh.auth,
        'completeMfaLogin',
        { challengeToken: `ghm_${'B'.repeat(43)}`, factor: { $case: 'totpCode', value: '123456' } },
        { token },
      ),
      status.UNAUTHENTICATED,
      'MFA_CHALLENGE_INVALID',
    );
  });

  it('production refuses to start without MFA_ENCRYPTION_KEY once a TOTP secret is stored', async () => {
    await enrolledUser();
    const run = await runGatehouseToExit({
      NODE_ENV: 'production',
      DATABASE_URL: gh.db.url,
      REDIS_URL: redisUrl,
      MAIL_TRANSPORT: 'log',
      GRPC_HOST: '127.0.0.1',
      GRPC_PORT: '0',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      CONNECT_PORT: '0',
    });
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(
      lines[0] ?? '',
      /^gatehouse: MFA_ENCRYPTION_KEY: required when NODE_ENV=production and TOTP secrets are stored .*openssl rand -base64 32/,
    );
  });
});
