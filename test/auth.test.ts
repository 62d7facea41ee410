import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { UserStatus } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';

describe('registration and login', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse();
  });
  after(async () => {
    await gh.stop();
  });

  it('registers, then logs in by email (any case) and by username', async () => {
    const email = uniqueEmail('Grace');
    const { user, tokens } = await registerUser(gh, { email, username: 'grace_h' });
    assert.equal(user.email, email);
    assert.equal(user.status, UserStatus.USER_STATUS_ACTIVE);
    assert.equal(user.emailVerified, false);
    assert.equal(tokens.tokenType, 'Bearer');
    assert.match(tokens.refreshToken, /^ghr_[A-Za-z0-9_-]{43}$/);

    const byEmail = await call(gh.auth, 'login', {
      identifier: `  ${email.toUpperCase()} `,
      password: PASSWORD,
    });
    assert.equal(byEmail.user?.id, user.id);
    assert.ok(byEmail.user?.lastLoginAt instanceof Date);
    const byName = await call(gh.auth, 'login', {
      identifier: 'GRACE_H',
      password: PASSWORD,
    });
    assert.equal(byName.user?.id, user.id);

    const me = await call(
      gh.auth,
      'getCurrentUser',
      {},
      { token: byName.tokens?.accessToken ?? '' },
    );
    assert.equal(me.user?.id, user.id);

    const [row] = await gh.db.query<{ password_hash: string }>(
      'SELECT password_hash FROM users WHERE id = $1',
      [user.id],
    );
    assert.match(row?.password_hash ?? '', /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    const audit = await gh.db.query<{
      action: string;
      outcome: string;
      ip_address: string;
      request_id: string;
    }>(
      'SELECT action, outcome, ip_address, request_id FROM audit_events WHERE subject_user_id = $1 ORDER BY id',
      [user.id],
    );
    for (const row of audit) {
      assert.equal(row.ip_address, '127.0.0.1', 'the source address is recorded');
      assert.match(row.request_id, /^[0-9a-f-]{36}$/);
    }
    assert.deepEqual(
      audit.map((a) => `${a.action}:${a.outcome}`),
      ['register:success', 'login:success', 'login:success'],
    );
  });

  it('answers ALREADY_EXISTS for a taken email (after normalisation) or username', async () => {
    const email = uniqueEmail();
    await registerUser(gh, { email, username: 'taken_name' });
    await expectRpcError(
      call(gh.auth, 'register', { email: ` ${email.toUpperCase()}`, password: PASSWORD }),
      status.ALREADY_EXISTS,
      'EMAIL_TAKEN',
    );
    await expectRpcError(
      call(gh.auth, 'register', {
        email: uniqueEmail(),
        password: PASSWORD,
        username: 'Taken_Name',
      }),
      status.ALREADY_EXISTS,
      'USERNAME_TAKEN',
    );
  });

  it('creates exactly one user from 50 concurrent registrations of case variants', async () => {
    const base = uniqueEmail('race');
    const variants = Array.from({ length: 50 }, (_, i) =>
      [...base].map((ch, j) => ((i >> (j % 6)) & 1 ? ch.toUpperCase() : ch)).join(''),
    );
    const results = await Promise.allSettled(
      variants.map((email) => call(gh.auth, 'register', { email, password: PASSWORD })),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) {
      if (r.status === 'rejected')
        assert.equal((r.reason as { code: number }).code, status.ALREADY_EXISTS);
    }
    const rows = await gh.db.query('SELECT id FROM users WHERE email_normalized = $1', [
      base.toLowerCase(),
    ]);
    assert.equal(rows.length, 1);
  });

  it('enforces the password policy before hashing, with BadRequest details', async () => {
    const cases: [string, string][] = [
      ['short', 'TOO_SHORT'],
      ['password123', 'COMMON_PASSWORD'],
      ['x'.repeat(257), 'TOO_LONG'],
      ['é'.repeat(257), 'TOO_LONG'],
    ];
    for (const [password, reason] of cases) {
      const s = await expectRpcError(
        call(gh.auth, 'register', { email: uniqueEmail(), password }),
        status.INVALID_ARGUMENT,
        'VALIDATION_FAILED',
      );
      assert.deepEqual(
        s.fieldViolations?.map((v) => [v.field, v.reason]),
        [['password', reason]],
        password.slice(0, 20),
      );
    }
    const s = await expectRpcError(
      call(gh.auth, 'register', {
        email: 'margaret.hamilton@example.test',
        password: 'xx-margaret.hamilton-xx',
      }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(s.fieldViolations?.[0]?.reason, 'CONTAINS_IDENTIFIER');
    // 8 code points after NFKC are enough, whatever the script; 256 is the inclusive maximum.
    await registerUser(gh, { password: '😀😀😀😀😀😀😀😀' });
    await registerUser(gh, { password: `${'q'.repeat(255)}z` });
  });

  it('makes unknown user, wrong password and disabled account indistinguishable', async () => {
    const { email, user } = await registerUser(gh);
    const disabled = await registerUser(gh);
    await gh.db.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [disabled.user.id]);
    const attempts = [
      { identifier: uniqueEmail('nobody'), password: PASSWORD },
      { identifier: email, password: 'wrong-password-entirely' },
      { identifier: disabled.email, password: PASSWORD },
    ];
    const answers = [];
    for (const a of attempts) {
      answers.push(
        await expectRpcError(
          call(gh.auth, 'login', a),
          status.UNAUTHENTICATED,
          'INVALID_CREDENTIALS',
        ),
      );
    }
    for (const a of answers) {
      assert.equal(a.message, answers[0]?.message);
      assert.deepEqual(a.raw, answers[0]?.raw, 'the status details are byte-identical');
    }
    const [row] = await gh.db.query<{ failed_login_count: number }>(
      'SELECT failed_login_count FROM users WHERE id = $1',
      [user.id],
    );
    assert.equal(row?.failed_login_count, 1);
  });

  it('rehashes on login when argon2 parameters changed, and upgrades bcrypt and scrypt imports', async () => {
    const old = await registerUser(gh);
    const weaker = await argon2.hash(PASSWORD, {
      type: argon2.argon2id,
      memoryCost: 19456,
      timeCost: 3,
      parallelism: 1,
    });
    await gh.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [old.user.id, weaker]);
    const bcryptUser = await registerUser(gh);
    await gh.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [
      bcryptUser.user.id,
      bcrypt.hashSync(PASSWORD, 4),
    ]);

    const scryptUser = await registerUser(gh);
    const salt = randomBytes(16);
    const scryptHash = `$scrypt$ln=14,r=8,p=1$${salt.toString('base64')}$${scryptSync(PASSWORD, salt, 32, { N: 2 ** 14, r: 8, p: 1 }).toString('base64')}`;
    await gh.db.query('UPDATE users SET password_hash = $2 WHERE id = $1', [
      scryptUser.user.id,
      scryptHash,
    ]);

    for (const u of [old, bcryptUser, scryptUser]) {
      await expectRpcError(
        call(gh.auth, 'login', { identifier: u.email, password: 'not the password' }),
        status.UNAUTHENTICATED,
        'INVALID_CREDENTIALS',
      );
      await call(gh.auth, 'login', { identifier: u.email, password: PASSWORD });
      const [row] = await gh.db.query<{ password_hash: string }>(
        'SELECT password_hash FROM users WHERE id = $1',
        [u.user.id],
      );
      assert.match(row?.password_hash ?? '', /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      await call(gh.auth, 'login', { identifier: u.email, password: PASSWORD });
    }
  });

  it('treats a malformed stored hash as a failed login, not an error', async () => {
    const u = await registerUser(gh);
    await gh.db.query(`UPDATE users SET password_hash = '$argon2id$garbage' WHERE id = $1`, [
      u.user.id,
    ]);
    await expectRpcError(
      call(gh.auth, 'login', { identifier: u.email, password: PASSWORD }),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );
  });
});
