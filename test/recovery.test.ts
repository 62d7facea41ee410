import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { User } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { type ReceivedMail, SmtpReceiver, tokenFromLink } from './helpers/smtpReceiver.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NEW_PASSWORD = 'quartz-lantern-meadow-42';
const RESET_URL = 'https://app.example.com/reset?lang=en';
const VERIFY_URL = 'https://app.example.com/verify-email';

/** Mail settings every Gatehouse of this file runs with, pointed at `smtp`. */
const mailEnv = (smtp: SmtpReceiver, extra: Record<string, string> = {}) => ({
  SMTP_URL: smtp.url,
  SMTP_FROM: 'Acme Accounts <accounts@acme.test>',
  MAIL_PRODUCT_NAME: 'Acme & Co',
  PASSWORD_RESET_URL: RESET_URL,
  EMAIL_VERIFICATION_URL: VERIFY_URL,
  MAIL_POLL_INTERVAL_MS: '100',
  ...extra,
});

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** The public parts of an error a client sees (to compare two errors for equality). */
async function visibleError(promise: Promise<unknown>, code: status, reason: string) {
  const s = await expectRpcError(promise, code, reason);
  return {
    code: s.grpcCode,
    message: s.message,
    reason: s.errorInfo?.reason,
    bad: s.fieldViolations,
  };
}

const run = promisify(execFile);
const BUF = new URL('../node_modules/.bin/buf', import.meta.url).pathname;

/** buf curl: an independent client that only knows what reflection serves. */
async function bufCurl(
  url: string,
  body: unknown,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      BUF,
      ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '-d', JSON.stringify(body), url],
      { timeout: 30_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('password reset', () => {
  let smtp: SmtpReceiver;
  let gh: Gatehouse;
  before(async () => {
    smtp = await SmtpReceiver.start();
    gh = await startGatehouse(mailEnv(smtp, { LOCKOUT_THRESHOLD: '3' }));
  });
  after(async () => {
    try {
      await gh?.stop();
    } finally {
      await smtp?.stop(); // even when start-up failed: an open server keeps the file running
    }
  });
  const requestReset = (email: string) => call(gh.auth, 'requestPasswordReset', { email });
  const reset = (token: string, newPassword = NEW_PASSWORD) =>
    call(gh.auth, 'resetPassword', { token, newPassword });
  const login = (identifier: string, password: string) =>
    call(gh.auth, 'login', { identifier, password });
  const active = async (accessToken: string) =>
    (await call(gh.auth, 'validateToken', { accessToken })).active;
  const resetToken = (mail: ReceivedMail) => tokenFromLink(mail.text, RESET_URL).token;

  it('mails a link whose token resets the password, ends every session and clears the lockout', async () => {
    const u = await registerUser(gh);
    const second = await login(u.email, u.password);
    for (let i = 0; i < 3; i++) {
      await expectRpcError(
        login(u.email, 'wrong-password-x'),
        status.UNAUTHENTICATED,
        'INVALID_CREDENTIALS',
      );
    }
    await expectRpcError(login(u.email, u.password), status.UNAUTHENTICATED, 'INVALID_CREDENTIALS');
    const [locked] = await gh.db.query('SELECT locked_until FROM users WHERE id = $1', [u.user.id]);
    assert.ok(locked?.locked_until, 'the account is locked out');

    assert.deepEqual(await requestReset(u.email.toUpperCase()), {});
    const mail = await smtp.next(u.email);

    // The message: envelope and headers, subject with the product name, both parts, the link.
    assert.deepEqual(mail.envelopeTo, [u.email]);
    assert.equal(mail.envelopeFrom, 'accounts@acme.test');
    assert.match(mail.from, /accounts@acme\.test/);
    assert.match(mail.to, new RegExp(u.email.replace(/\./g, '\\.')));
    assert.equal(mail.subject, 'Reset your Acme & Co password');
    assert.match(mail.text, /Acme & Co account/);
    assert.match(mail.text, /within 30 minutes/);
    const { link, token } = tokenFromLink(mail.text, RESET_URL);
    assert.match(token, /^ghpr_[A-Za-z0-9_-]{43}$/, '256 random bits, base64url');
    assert.equal(link, `${RESET_URL}&token=${token}`, 'existing query parameters are kept');
    assert.match(mail.html, /Acme &amp; Co account/, 'the product name is HTML-escaped');
    assert.ok(
      mail.html.includes(`href="${RESET_URL.replace('&', '&amp;')}&amp;token=${token}"`),
      'the HTML part links to the same token',
    );
    assert.match(mail.messageId, /^<[0-9a-f-]{36}@acme\.test>$/);

    // Only the token's hash is stored; the outbox row is marked sent and its bodies blanked.
    const tokens = await gh.db.query<{ token_hash: Buffer; expires_at: Date; created_at: Date }>(
      `SELECT token_hash, expires_at, created_at FROM one_time_tokens
       WHERE user_id = $1 AND purpose = 'password_reset'`,
      [u.user.id],
    );
    assert.equal(tokens.length, 1);
    assert.deepEqual(tokens[0]?.token_hash, sha256(token));
    const ttlMs = (tokens[0]?.expires_at.getTime() ?? 0) - (tokens[0]?.created_at.getTime() ?? 0);
    assert.equal(Math.round(ttlMs / 1000), 1800, 'default lifetime 30 minutes');
    let outbox: Record<string, unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      outbox = await gh.db.query(
        'SELECT status, text_body, html_body, attempts, sent_at FROM outbox_messages WHERE message_id = $1',
        [mail.messageId],
      );
      if (outbox[0]?.status === 'sent') break;
      await sleep(50);
    }
    assert.equal(outbox[0]?.status, 'sent');
    assert.equal(outbox[0]?.text_body, '', 'a delivered token does not stay in the outbox');
    assert.equal(outbox[0]?.html_body, '');
    assert.equal(outbox[0]?.attempts, 1);

    assert.deepEqual(await reset(token), {});
    await sleep(50);
    assert.equal(await active(u.tokens.accessToken), false, 'the registration session ended');
    assert.equal(await active(second.tokens?.accessToken ?? ''), false, 'the login session ended');
    await expectRpcError(
      call(gh.auth, 'refresh', { refreshToken: u.tokens.refreshToken }),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
    await expectRpcError(login(u.email, u.password), status.UNAUTHENTICATED, 'INVALID_CREDENTIALS');
    const fresh = await login(u.email, NEW_PASSWORD);
    assert.equal(fresh.user?.emailVerified, true, 'the reset proved control of the address');
    const [row] = await gh.db.query(
      'SELECT failed_login_count, locked_until FROM users WHERE id = $1',
      [u.user.id],
    );
    assert.equal(row?.locked_until, null, 'the lockout is cleared');
    assert.equal(row?.failed_login_count, 0);
    const audit = await gh.db.query<{
      action: string;
      outcome: string;
      details: Record<string, unknown>;
    }>(
      `SELECT action, outcome, details FROM audit_events
       WHERE subject_user_id = $1 AND action LIKE 'password_reset%' ORDER BY id`,
      [u.user.id],
    );
    assert.deepEqual(
      audit.map((a) => [a.action, a.outcome]),
      [
        ['password_reset_request', 'success'],
        ['password_reset', 'success'],
      ],
    );
    assert.equal(audit[1]?.details.revoked_sessions, 2);
    assert.ok(!JSON.stringify(audit).includes(token.slice(5)), 'no token in audit rows');

    const again = await expectRpcError(
      reset(token, 'another-fine-password-7'),
      status.INVALID_ARGUMENT,
      'INVALID_RESET_TOKEN',
    );
    assert.deepEqual(
      (again.fieldViolations ?? []).map((v) => v.field),
      ['token'],
      'single use; BadRequest names token',
    );
  });

  it('a newer request invalidates the older token', async () => {
    const u = await registerUser(gh);
    await requestReset(u.email);
    const first = resetToken(await smtp.next(u.email, 1));
    await requestReset(u.email);
    const second = resetToken(await smtp.next(u.email, 2));
    assert.notEqual(first, second);
    await expectRpcError(reset(first), status.INVALID_ARGUMENT, 'INVALID_RESET_TOKEN');
    await reset(second);
    await login(u.email, NEW_PASSWORD);
  });

  it('answers unknown, malformed, used and superseded tokens with one indistinguishable error', async () => {
    const u = await registerUser(gh);
    await requestReset(u.email);
    const superseded = resetToken(await smtp.next(u.email, 1));
    await requestReset(u.email);
    const used = resetToken(await smtp.next(u.email, 2));
    await reset(used);
    const errors = [];
    for (const token of [
      `ghpr_${randomBytes(32).toString('base64url')}`,
      'not-a-token',
      `ghev_${randomBytes(32).toString('base64url')}`,
      used,
      superseded,
    ]) {
      errors.push(await visibleError(reset(token), status.INVALID_ARGUMENT, 'INVALID_RESET_TOKEN'));
    }
    for (const e of errors) assert.deepEqual(e, errors[0]);

    const empty = await expectRpcError(reset(''), status.INVALID_ARGUMENT, 'VALIDATION_FAILED');
    assert.deepEqual(
      (empty.fieldViolations ?? []).map((v) => v.field),
      ['token'],
    );
  });

  it('checks the new password against the policy and leaves the token usable', async () => {
    const u = await registerUser(gh);
    await requestReset(u.email);
    const token = resetToken(await smtp.next(u.email));
    const localPart = u.email.split('@')[0] ?? '';
    for (const bad of ['short', 'password123', `${localPart}-2024`]) {
      const s = await expectRpcError(
        reset(token, bad),
        status.INVALID_ARGUMENT,
        'VALIDATION_FAILED',
      );
      assert.deepEqual(
        (s.fieldViolations ?? []).map((v) => v.field),
        ['new_password'],
        bad,
      );
    }
    await reset(token);
    await login(u.email, NEW_PASSWORD);
  });

  it('lets exactly one of two concurrent resets with one token succeed', async () => {
    const u = await registerUser(gh);
    await requestReset(u.email);
    const token = resetToken(await smtp.next(u.email));
    const results = await Promise.allSettled([
      reset(token, 'concurrent-first-pass-1'),
      reset(token, 'concurrent-second-pass-2'),
    ]);
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const rejected = results.find((r) => r.status === 'rejected');
    await expectRpcError(
      Promise.reject(rejected?.reason),
      status.INVALID_ARGUMENT,
      'INVALID_RESET_TOKEN',
    );
    const used = await gh.db.query(
      `SELECT 1 FROM one_time_tokens WHERE user_id = $1 AND used_at IS NOT NULL`,
      [u.user.id],
    );
    assert.equal(used.length, 1);
  });

  it('answers OK for an unknown address and sends nothing; refuses a malformed one', async () => {
    const unknown = uniqueEmail('nobody');
    assert.deepEqual(await requestReset(unknown), {});
    // A later message to a real account is delivered after any earlier one would have been.
    const u = await registerUser(gh);
    await requestReset(u.email);
    await smtp.next(u.email);
    assert.equal(smtp.to(unknown).length, 0);
    const rows = await gh.db.query('SELECT 1 FROM outbox_messages WHERE recipient = $1', [unknown]);
    assert.equal(rows.length, 0);
    const audit = await gh.db.query(
      `SELECT details FROM audit_events WHERE action = 'password_reset_request'
       AND outcome = 'failure' AND subject_user_id IS NULL`,
    );
    assert.ok(audit.length >= 1, 'the attempt is audited without naming the address');
    assert.ok(!JSON.stringify(audit).includes(unknown));

    const bad = await expectRpcError(
      requestReset('not an address'),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      (bad.fieldViolations ?? []).map((v) => v.field),
      ['email'],
    );
  });

  it('takes about the same time whether or not the address exists', async () => {
    const known = [];
    for (let i = 0; i < 12; i++) known.push((await registerUser(gh)).email);
    const time = async (email: string) => {
      const started = performance.now();
      await requestReset(email);
      return performance.now() - started;
    };
    const hits: number[] = [];
    const misses: number[] = [];
    for (const email of known) {
      hits.push(await time(email));
      misses.push(await time(uniqueEmail('ghost')));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const delta = Math.abs(median(hits) - median(misses));
    assert.ok(
      delta < 10,
      `medians differ by ${delta.toFixed(1)} ms (known ${median(hits).toFixed(1)}, unknown ${median(misses).toFixed(1)})`,
    );
  });

  it('voids a token once the account changes its address', async () => {
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    const u = await registerUser(gh);
    await requestReset(u.email);
    const token = resetToken(await smtp.next(u.email));
    await call(
      gh.admin,
      'updateUser',
      { user: User.fromPartial({ ...u.user, email: uniqueEmail('moved') }), updateMask: ['email'] },
      { token: admin.tokens.accessToken },
    );
    await expectRpcError(reset(token), status.INVALID_ARGUMENT, 'INVALID_RESET_TOKEN');
  });

  it('voids a token once the account changes its password', async () => {
    const u = await registerUser(gh);
    await requestReset(u.email);
    const token = resetToken(await smtp.next(u.email));
    const changed = await call(
      gh.auth,
      'changePassword',
      { currentPassword: u.password, newPassword: NEW_PASSWORD },
      { token: u.tokens.accessToken },
    );
    assert.ok(changed.tokens?.accessToken);
    // A link mailed before the change must not undo it.
    await expectRpcError(
      reset(token, 'another-quartz-lantern-7'),
      status.INVALID_ARGUMENT,
      'INVALID_RESET_TOKEN',
    );
    assert.ok((await login(u.email, NEW_PASSWORD)).tokens?.accessToken);
  });

  it('works end to end through buf curl', async () => {
    const u = await registerUser(gh);
    const base = `http://${gh.target}/gatehouse.auth.v1.AuthService`;
    const requested = await bufCurl(`${base}/RequestPasswordReset`, { email: u.email });
    assert.equal(requested.code, 0, requested.stderr);
    assert.deepEqual(JSON.parse(requested.stdout), {});
    const token = resetToken(await smtp.next(u.email));
    const done = await bufCurl(`${base}/ResetPassword`, { token, new_password: NEW_PASSWORD });
    assert.equal(done.code, 0, done.stderr);
    const again = await bufCurl(`${base}/ResetPassword`, { token, new_password: NEW_PASSWORD });
    assert.notEqual(again.code, 0);
    const error = JSON.parse(again.stderr) as {
      code: string;
      details: { type: string; value: string }[];
    };
    assert.equal(error.code, 'invalid_argument');
    const info = error.details.find((d) => d.type === 'google.rpc.ErrorInfo');
    assert.match(
      Buffer.from(info?.value ?? '', 'base64').toString('latin1'),
      /INVALID_RESET_TOKEN/,
    );
    const ok = await bufCurl(`${base}/Login`, { identifier: u.email, password: NEW_PASSWORD });
    assert.equal(ok.code, 0, ok.stderr);
  });
});

describe('password reset limits and expiry', () => {
  let smtp: SmtpReceiver;
  let gh: Gatehouse;
  before(async () => {
    smtp = await SmtpReceiver.start();
    gh = await startGatehouse(
      mailEnv(smtp, { RATE_LIMIT_ACCOUNT_POINTS: '3', PASSWORD_RESET_TTL_SEC: '2' }),
    );
  });
  after(async () => {
    try {
      await gh?.stop();
    } finally {
      await smtp?.stop(); // even when start-up failed: an open server keeps the file running
    }
  });

  it('is rate limited per address, whether or not it exists, with RetryInfo', async () => {
    const u = await registerUser(gh);
    for (const email of [u.email, uniqueEmail('ghost')]) {
      for (let i = 0; i < 3; i++) await call(gh.auth, 'requestPasswordReset', { email });
      const s = await expectRpcError(
        call(gh.auth, 'requestPasswordReset', { email }),
        status.RESOURCE_EXHAUSTED,
        'RATE_LIMITED',
      );
      assert.ok((s.retryDelayMs ?? 0) > 0, 'RetryInfo says when to retry');
    }
    await call(gh.auth, 'requestPasswordReset', { email: uniqueEmail('other') });
  });

  it('refuses an expired token like any other invalid one, and never mails a dead link', async () => {
    const u = await registerUser(gh);
    await call(gh.auth, 'requestPasswordReset', { email: u.email });
    const token = tokenFromLink((await smtp.next(u.email)).text, RESET_URL).token;
    assert.match((await smtp.next(u.email)).text, /within 2 seconds/);
    await sleep(2100);
    const expired = await visibleError(
      call(gh.auth, 'resetPassword', { token, newPassword: NEW_PASSWORD }),
      status.INVALID_ARGUMENT,
      'INVALID_RESET_TOKEN',
    );
    const unknown = await visibleError(
      call(gh.auth, 'resetPassword', {
        token: `ghpr_${randomBytes(32).toString('base64url')}`,
        newPassword: NEW_PASSWORD,
      }),
      status.INVALID_ARGUMENT,
      'INVALID_RESET_TOKEN',
    );
    assert.deepEqual(expired, unknown);
  });
});

describe('email verification', () => {
  let smtp: SmtpReceiver;
  let gh: Gatehouse;
  before(async () => {
    smtp = await SmtpReceiver.start();
    gh = await startGatehouse(mailEnv(smtp, { REQUIRE_VERIFIED_EMAIL: 'true' }));
  });
  after(async () => {
    try {
      await gh?.stop();
    } finally {
      await smtp?.stop(); // even when start-up failed: an open server keeps the file running
    }
  });
  const requestVerification = (token?: string) =>
    call(gh.auth, 'requestEmailVerification', {}, token === undefined ? {} : { token });
  const verify = (token: string) => call(gh.auth, 'verifyEmail', { token });
  const login = (identifier: string, password: string) =>
    call(gh.auth, 'login', { identifier, password });
  const verifyToken = (mail: ReceivedMail) => tokenFromLink(mail.text, VERIFY_URL).token;

  it('verifies the address end to end; REQUIRE_VERIFIED_EMAIL gates Login until then', async () => {
    const u = await registerUser(gh);
    const other = await registerUser(gh);
    await verifyWith(other);
    const wrong = await visibleError(
      login(other.email, 'not-the-password-1'),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );
    // Several logins with the right password: refused exactly like a wrong password, and not
    // counted as failures (the account is usable at once after verification).
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(
        await visibleError(
          login(u.email, u.password),
          status.UNAUTHENTICATED,
          'INVALID_CREDENTIALS',
        ),
        wrong,
      );
    }

    await requestVerification(u.tokens.accessToken);
    const mail = await smtp.next(u.email);
    assert.equal(mail.subject, 'Verify your email address for Acme & Co');
    assert.match(mail.text, /within 1 day/);
    const first = verifyToken(mail);
    assert.match(first, /^ghev_[A-Za-z0-9_-]{43}$/);
    assert.ok(mail.html.includes(`href="${VERIFY_URL}?token=${first}"`));

    await requestVerification(u.tokens.accessToken);
    const second = verifyToken(await smtp.next(u.email, 2));
    await expectRpcError(verify(first), status.INVALID_ARGUMENT, 'INVALID_VERIFICATION_TOKEN');
    const res = await verify(second);
    assert.equal(res.user?.id, u.user.id);
    assert.equal(res.user?.emailVerified, true);
    const s = await expectRpcError(
      verify(second),
      status.INVALID_ARGUMENT,
      'INVALID_VERIFICATION_TOKEN',
    );
    assert.deepEqual(
      (s.fieldViolations ?? []).map((v) => v.field),
      ['token'],
    );
    await expectRpcError(
      requestVerification(u.tokens.accessToken),
      status.FAILED_PRECONDITION,
      'EMAIL_ALREADY_VERIFIED',
    );
    const ok = await login(u.email, u.password);
    assert.equal(ok.user?.emailVerified, true);
    const audit = await gh.db.query(
      `SELECT action FROM audit_events WHERE subject_user_id = $1 AND action LIKE 'email_verif%' ORDER BY id`,
      [u.user.id],
    );
    assert.deepEqual(
      audit.map((a) => a.action),
      ['email_verification_request', 'email_verification_request', 'email_verify'],
    );
  });

  async function verifyWith(user: { email: string; tokens: { accessToken: string } }) {
    const before = smtp.to(user.email).length;
    await requestVerification(user.tokens.accessToken);
    await verify(verifyToken(await smtp.next(user.email, before + 1)));
  }

  it('checks its input and its caller', async () => {
    await expectRpcError(requestVerification(), status.UNAUTHENTICATED, 'INVALID_ACCESS_TOKEN');
    const empty = await expectRpcError(verify(''), status.INVALID_ARGUMENT, 'VALIDATION_FAILED');
    assert.deepEqual(
      (empty.fieldViolations ?? []).map((v) => v.field),
      ['token'],
    );
    const garbage = await visibleError(
      verify('ghev_nope'),
      status.INVALID_ARGUMENT,
      'INVALID_VERIFICATION_TOKEN',
    );
    const unknown = await visibleError(
      verify(`ghev_${randomBytes(32).toString('base64url')}`),
      status.INVALID_ARGUMENT,
      'INVALID_VERIFICATION_TOKEN',
    );
    assert.deepEqual(garbage, unknown);

    // A reset token is not a verification token, and vice versa.
    const u = await registerUser(gh);
    await call(gh.auth, 'requestPasswordReset', { email: u.email });
    const resetToken = tokenFromLink((await smtp.next(u.email)).text, RESET_URL).token;
    await expectRpcError(verify(resetToken), status.INVALID_ARGUMENT, 'INVALID_VERIFICATION_TOKEN');
    await requestVerification(u.tokens.accessToken);
    const verification = verifyToken(await smtp.next(u.email, 2));
    await expectRpcError(
      call(gh.auth, 'resetPassword', { token: verification, newPassword: NEW_PASSWORD }),
      status.INVALID_ARGUMENT,
      'INVALID_RESET_TOKEN',
    );
  });

  it('a password reset verifies the address, so Login then succeeds', async () => {
    const u = await registerUser(gh);
    await expectRpcError(login(u.email, PASSWORD), status.UNAUTHENTICATED, 'INVALID_CREDENTIALS');
    await call(gh.auth, 'requestPasswordReset', { email: u.email });
    const token = tokenFromLink((await smtp.next(u.email)).text, RESET_URL).token;
    await call(gh.auth, 'resetPassword', { token, newPassword: NEW_PASSWORD });
    const ok = await login(u.email, NEW_PASSWORD);
    assert.equal(ok.user?.emailVerified, true);
  });

  it('voids a verification token once the address changes, and the new address is unverified', async () => {
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}', email_verified = true WHERE id = $1`, [
      admin.user.id,
    ]);
    const u = await registerUser(gh);
    await requestVerification(u.tokens.accessToken);
    const token = verifyToken(await smtp.next(u.email));
    const moved = await call(
      gh.admin,
      'updateUser',
      { user: User.fromPartial({ ...u.user, email: uniqueEmail('moved') }), updateMask: ['email'] },
      { token: admin.tokens.accessToken },
    );
    assert.equal(moved.user?.user?.emailVerified, false);
    await expectRpcError(verify(token), status.INVALID_ARGUMENT, 'INVALID_VERIFICATION_TOKEN');
  });
});
