import assert from 'node:assert/strict';
import { randomBytes, randomUUID, scryptSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import type { ImportedUser } from '../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser, uniqueEmail } from './helpers/users.ts';

const LEGACY_PASSWORD = 'legacy-system-passphrase-7';

const entry = (over: Partial<ImportedUser>): ImportedUser => ({
  email: uniqueEmail('imported'),
  roles: [],
  emailVerified: false,
  passwordHash: '',
  ...over,
});

function scryptPhc(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, { N: 2 ** 14, r: 8, p: 1 });
  return `$scrypt$ln=14,r=8,p=1$${salt.toString('base64')}$${hash.toString('base64')}`;
}

describe('ImportUsers', () => {
  let gh: Gatehouse;
  let token: string;
  let requestCount = 0;
  before(async () => {
    // A full 1000-entry batch with hashes is ~100 KB: above the 64 KiB default message limit.
    gh = await startGatehouse({ GRPC_MAX_MESSAGE_BYTES: String(1024 * 1024) });
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    token = admin.tokens.accessToken;
  });
  after(async () => {
    await gh.stop();
  });
  const importUsers = (users: ImportedUser[]) => {
    requestCount += 1;
    return call(gh.admin, 'importUsers', { users }, { token });
  };
  const storedHash = async (id: string) =>
    (
      await gh.db.query<{ password_hash: string }>(
        'SELECT password_hash FROM users WHERE id = $1',
        [id],
      )
    )[0]?.password_hash ?? '';

  it('imports bcrypt, argon2id, argon2i and scrypt hashes; login verifies and upgrades them', async () => {
    const bcryptHash = bcrypt.hashSync(LEGACY_PASSWORD, 10);
    const hashes = {
      bcrypt2b: bcryptHash,
      bcrypt2a: bcryptHash.replace(/^\$2b\$/, '$2a$'),
      bcrypt2y: bcryptHash.replace(/^\$2b\$/, '$2y$'),
      argon2id: await argon2.hash(LEGACY_PASSWORD, {
        type: argon2.argon2id,
        memoryCost: 8192,
        timeCost: 3,
        parallelism: 1,
      }),
      argon2i: await argon2.hash(LEGACY_PASSWORD, { type: argon2.argon2i }),
      scrypt: scryptPhc(LEGACY_PASSWORD),
    };
    const createdAt = new Date('2019-05-04T03:02:01.000Z');
    const entries = Object.entries(hashes).map(([kind, passwordHash]) =>
      entry({
        email: uniqueEmail(kind),
        username: `legacy_${kind}`,
        displayName: `Legacy ${kind}`,
        roles: ['customer'],
        emailVerified: true,
        passwordHash,
        createdAt,
        externalId: `legacy-${kind}`,
      }),
    );
    const res = await importUsers(entries);
    assert.equal(res.importedCount, entries.length);
    assert.equal(res.failedCount, 0);

    for (const [i, result] of res.results.entries()) {
      const e = entries[i] as ImportedUser;
      assert.equal(result.index, i);
      assert.equal(result.email, e.email);
      assert.ok(result.ok, result.errorMessage);
      const before = await call(gh.admin, 'getUser', { userId: result.userId }, { token });
      const expectedAlgorithm = e.passwordHash.startsWith('$2')
        ? 'bcrypt'
        : (e.passwordHash.split('$')[1] ?? '');
      assert.equal(before.user?.passwordAlgorithm, expectedAlgorithm);
      assert.equal(before.user?.hasPassword, true);
      assert.equal(before.user?.user?.createdAt?.toISOString(), createdAt.toISOString());
      assert.deepEqual(before.user?.user?.roles, ['customer']);
      assert.equal(before.user?.user?.emailVerified, true);
      assert.equal(await storedHash(result.userId), e.passwordHash, 'kept as is until login');
      const [row] = await gh.db.query<{ external_id: string }>(
        'SELECT external_id FROM users WHERE id = $1',
        [result.userId],
      );
      assert.equal(row?.external_id, e.externalId);

      const login = await call(gh.auth, 'login', {
        identifier: e.username ?? '',
        password: LEGACY_PASSWORD,
      });
      assert.equal(login.user?.id, result.userId);
      assert.match(await storedHash(result.userId), /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      const afterLogin = await call(gh.admin, 'getUser', { userId: result.userId }, { token });
      assert.equal(afterLogin.user?.passwordAlgorithm, 'argon2id');
      await call(gh.auth, 'login', { identifier: e.email, password: LEGACY_PASSWORD });
    }
  });

  it('reports each failing entry on its own and imports the rest', async () => {
    const existing = await registerUser(gh, { username: 'already_here' });
    const dup = uniqueEmail('dup');
    const bcryptHash = bcrypt.hashSync(LEGACY_PASSWORD, 4);
    const entries = [
      entry({ email: dup, passwordHash: bcryptHash }),
      entry({ email: dup.toUpperCase() }),
      entry({ email: existing.email }),
      entry({ username: 'Already_Here' }),
      entry({ email: 'not an email' }),
      entry({ username: 'has@sign' }),
      entry({ roles: ['Admin'] }),
      entry({ passwordHash: 'plaintext-password' }),
      entry({ passwordHash: '5f4dcc3b5aa765d61d8327deb882cf99' }),
      entry({
        passwordHash: '$argon2d$v=19$m=4096,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
      }),
      entry({ passwordHash: bcryptHash.replace(/^\$2b\$04\$/, '$2b$31$') }),
      entry({
        passwordHash: `$argon2id$v=19$m=4194304,t=3,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA`,
      }),
      entry({ createdAt: new Date(Date.now() + 86_400_000) }),
      entry({ displayName: 'bell\u0007' }),
      entry({ username: 'fresh_name', displayName: 'No password yet' }),
    ];
    const res = await importUsers(entries);
    assert.deepEqual(
      res.results.map((r) => r.errorReason),
      [
        '',
        'ALREADY_EXISTS',
        'ALREADY_EXISTS',
        'ALREADY_EXISTS',
        'INVALID_EMAIL',
        'INVALID_USERNAME',
        'INVALID_ROLE',
        'INVALID_HASH',
        'INVALID_HASH',
        'INVALID_HASH',
        'INVALID_HASH',
        'INVALID_HASH',
        'VALIDATION_FAILED',
        'VALIDATION_FAILED',
        '',
      ],
    );
    assert.equal(res.importedCount, 2);
    assert.equal(res.failedCount, entries.length - 2);
    for (const r of res.results) {
      assert.equal(r.ok, r.errorReason === '');
      assert.equal(r.userId === '', !r.ok);
      assert.equal(r.errorMessage === '', r.ok);
      const hash = entries[r.index]?.passwordHash ?? '';
      assert.ok(hash === '' || !r.errorMessage.includes(hash.slice(8)), 'no hash echoed back');
    }
    assert.match(res.results[3]?.errorMessage ?? '', /username/);
    const noPassword = res.results[14];
    const got = await call(gh.admin, 'getUser', { userId: noPassword?.userId ?? '' }, { token });
    assert.equal(got.user?.hasPassword, false);
    assert.equal(got.user?.passwordAlgorithm, '');

    const audit = await gh.db.query<{ outcome: string; details: Record<string, number> }>(
      `SELECT outcome, details FROM audit_events WHERE action = 'user_import' ORDER BY id`,
    );
    assert.equal(audit.length, requestCount, 'one audit event per call');
    assert.deepEqual(audit.at(-1)?.details, {
      requested: entries.length,
      imported: 2,
      failed: entries.length - 2,
    });
  });

  it('imports a full batch of 1000 in one call and refuses empty or larger batches', async () => {
    const hash = bcrypt.hashSync(LEGACY_PASSWORD, 4);
    const batch = Array.from({ length: 1000 }, (_, i) =>
      entry({ email: `bulk${i}.${randomUUID().slice(0, 8)}@import.test`, passwordHash: hash }),
    );
    const res = await importUsers(batch);
    assert.equal(res.importedCount, 1000);
    const [row] = await gh.db.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM users WHERE email_normalized LIKE 'bulk%@import.test'`,
    );
    assert.equal(row?.count, 1000);

    const tooMany = await expectRpcError(
      importUsers(Array.from({ length: 1001 }, (_, i) => entry({ email: `x${i}@import.test` }))),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      tooMany.fieldViolations?.map((v) => v.field),
      ['users'],
    );
    await expectRpcError(importUsers([]), status.INVALID_ARGUMENT, 'VALIDATION_FAILED');
  });
});
