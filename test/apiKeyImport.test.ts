import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { credentials, type ServiceError, status } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { createApiKey } from '../src/apiKeys/createApiKey.ts';
import {
  type ImportApiKeysResponse,
  type ImportedApiKey,
  ServiceAccountAdminServiceClient,
  ServiceAccountStatus,
} from '../src/gen/gatehouse/admin/v1/service_account_admin_service.ts';
import { UserAdminServiceClient } from '../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import {
  AuthServiceClient,
  PrincipalType,
  UserStatus,
} from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { createDatabase, type DatabasePool } from '../src/storage/createDatabase.ts';
import { eventually } from './helpers/eventually.ts';
import { redisDump } from './helpers/redisDump.ts';
import { expectRpcError, rpcStatus } from './helpers/rpcError.ts';
import { spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { createTestDatabase, redisUrl, type TestDatabase } from './helpers/testDatabase.ts';
import { registerUser, uniqueEmail } from './helpers/users.ts';
import { whileKeyLookupsBlocked } from './helpers/whileKeyLookupsBlocked.ts';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();
/** Legacy key formats seen in the wild. */
const legacyUuid = () => randomUUID();
const legacyStripe = () => `sk_live_${randomBytes(18).toString('base64url')}`;
const legacyHex = () => randomBytes(20).toString('hex');
const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

const LIST_USERS = {
  pageSize: 1,
  pageToken: '',
  query: '',
  role: '',
  status: UserStatus.USER_STATUS_UNSPECIFIED,
};
const LIST_ACCOUNTS = {
  pageSize: 1,
  pageToken: '',
  status: ServiceAccountStatus.SERVICE_ACCOUNT_STATUS_UNSPECIFIED,
};

/** An entry of `secret` for a service account by name, or a user by email. */
function entry(
  secret: string,
  owner: { serviceAccount: string } | { email: string },
  over: Partial<ImportedApiKey> = {},
): ImportedApiKey {
  return {
    credential: { $case: 'secret', value: secret },
    owner:
      'email' in owner
        ? { $case: 'userEmail', value: owner.email }
        : { $case: 'serviceAccountName', value: owner.serviceAccount },
    displayName: 'legacy key',
    roles: [],
    disabled: false,
    ...over,
  };
}

/** The ErrorReason and field of each failed result, ok ones as 'ok'. */
const outcomes = (r: ImportApiKeysResponse) => r.results.map((x) => (x.ok ? 'ok' : x.errorReason));

/** A slonik pool on the test database, for createApiKey (keys made without the admin API). */
function keyPool(db: TestDatabase): Promise<DatabasePool> {
  return createDatabase({
    url: db.url,
    poolMax: 2,
    statementTimeoutMs: 10_000,
    connectTimeoutMs: 5000,
  });
}

/** An admin `ghk_` key of a service account made with SQL: a caller that spends no budget. */
async function adminKey(db: TestDatabase, pool: DatabasePool): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `INSERT INTO service_accounts (name, roles) VALUES ($1, '{admin}') RETURNING id`,
    [unique('importer')],
  );
  assert.ok(row);
  const created = await pool.transaction((tx) =>
    createApiKey(
      tx,
      {
        owner: { kind: 'service_account', id: row.id },
        displayName: 'importer',
        roles: ['admin'],
        expiresAt: null,
      },
      { userKeyMaxTtlMs: null, serviceAccountKeyMaxTtlMs: null, maxKeysPerUser: null },
    ),
  );
  return created.secret;
}

describe('ImportApiKeys', () => {
  let gh: Gatehouse;
  let token: string;
  let owner: { id: string; email: string };
  let partner: { id: string; name: string };
  let reader: { id: string; name: string };

  before(async () => {
    gh = await startGatehouse({ GRPC_MAX_MESSAGE_BYTES: String(1024 * 1024) });
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    token = admin.tokens.accessToken;
    const u = await registerUser(gh, { email: uniqueEmail('legacy-owner') });
    await gh.db.query(`UPDATE users SET roles = '{admin,reader}' WHERE id = $1`, [u.user.id]);
    owner = { id: u.user.id, email: u.email };
    const account = async (roles: string[]) => {
      const name = unique('partner');
      const res = await call(
        gh.serviceAccounts,
        'createServiceAccount',
        { name, displayName: '', description: '', roles },
        { token },
      );
      return { id: res.serviceAccount?.id ?? '', name };
    };
    partner = await account(['admin', 'reader']);
    reader = await account(['reader']);
  });
  after(async () => {
    await gh.stop();
  });

  const importKeys = (apiKeys: ImportedApiKey[], options: { token?: string } = { token }) =>
    call(gh.serviceAccounts, 'importApiKeys', { apiKeys }, options);
  const validate = (secret: string) => call(gh.auth, 'validateToken', { accessToken: secret });

  it('imports plaintext UUID, sk_live_ and hex keys of a user and service accounts; they validate and authenticate', async () => {
    const uuid = legacyUuid();
    const stripe = legacyStripe();
    const hex = legacyHex();
    const createTime = new Date('2019-05-04T03:02:01.000Z');
    const res = await importKeys([
      // The email as the legacy table spelled it: matched case-insensitively, like Login.
      entry(uuid, { email: `  ${owner.email.toUpperCase()}` }, { roles: ['admin'] }),
      entry(stripe, { serviceAccount: partner.name }, { displayName: 'billing sync' }),
      entry(hex, { serviceAccount: reader.name }, { roles: ['reader'], createTime }),
    ]);
    assert.deepEqual(outcomes(res), ['ok', 'ok', 'ok']);
    assert.equal(res.importedCount, 3);
    assert.equal(res.failedCount, 0);
    const [u, s, h] = res.results;
    assert.ok(u && s && h);
    assert.equal(u.displayPrefix, uuid.slice(0, 8));
    assert.equal(s.displayPrefix, 'sk_live_');
    assert.equal(h.displayPrefix, hex.slice(0, 8));

    const vu = await validate(uuid);
    assert.equal(vu.active, true);
    assert.equal(vu.principalType, PrincipalType.PRINCIPAL_TYPE_USER_API_KEY);
    assert.equal(vu.userId, owner.id);
    assert.equal(vu.apiKeyId, u.apiKeyId);
    assert.deepEqual(vu.roles, ['admin']);
    const vs = await validate(stripe);
    assert.equal(vs.principalType, PrincipalType.PRINCIPAL_TYPE_SERVICE_ACCOUNT);
    assert.equal(vs.serviceAccountId, partner.id);
    assert.equal(vs.apiKeyId, s.apiKeyId);
    assert.deepEqual(vs.roles, ['admin', 'reader'], 'no roles asked: all the owner held');
    const vh = await validate(hex);
    assert.equal(vh.serviceAccountId, reader.id);
    assert.deepEqual(vh.roles, ['reader']);

    // As bearer credentials: admin RPCs of both services, when the owner is an admin.
    await call(gh.admin, 'listUsers', LIST_USERS, { token: uuid });
    await call(gh.serviceAccounts, 'listServiceAccounts', LIST_ACCOUNTS, { token: stripe });
    await expectRpcError(
      call(gh.serviceAccounts, 'listServiceAccounts', LIST_ACCOUNTS, { token: hex }),
      status.PERMISSION_DENIED,
      'ADMIN_ROLE_REQUIRED',
    );
    // And traded for an access token, like any key.
    const { accessToken } = await call(gh.auth, 'exchangeApiKey', {}, { token: stripe });
    const vt = await validate(accessToken);
    assert.equal(vt.principalType, PrincipalType.PRINCIPAL_TYPE_SERVICE_ACCOUNT);
    assert.equal(vt.apiKeyId, s.apiKeyId);

    // Stored as SHA-256 of the exact string, with the legacy history and the key's own listing.
    const [row] = await gh.db.query<{ created_at: Date; hashed: boolean; display_prefix: string }>(
      `SELECT k.created_at, s.secret_hash = $2 AS hashed, s.display_prefix
       FROM api_keys k JOIN api_key_secrets s ON s.api_key_id = k.id WHERE k.id = $1`,
      [h.apiKeyId, sha256(hex)],
    );
    assert.deepEqual(row, {
      created_at: createTime,
      hashed: true,
      display_prefix: hex.slice(0, 8),
    });
    const listed = await call(
      gh.serviceAccounts,
      'listServiceAccountKeys',
      { serviceAccountId: partner.id, pageSize: 0, pageToken: '' },
      { token },
    );
    const key = listed.apiKeys.find((k) => k.id === s.apiKeyId);
    assert.equal(key?.displayName, 'billing sync');
    assert.equal(key?.displayPrefix, 'sk_live_');
  });

  it('a disabled or expired legacy key is inactive; revocation and owner changes reach it within 1 s', async () => {
    const disabled = legacyUuid();
    const expired = legacyStripe();
    const revoked = legacyHex();
    const ofDisabledOwner = legacyUuid();
    const account = unique('soon-disabled');
    const created = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: account, displayName: '', description: '', roles: ['reader'] },
      { token },
    );
    const accountId = created.serviceAccount?.id ?? '';
    const res = await importKeys([
      entry(disabled, { serviceAccount: partner.name }, { disabled: true }),
      entry(
        expired,
        { serviceAccount: partner.name },
        { expireTime: new Date(Date.now() - 60_000) },
      ),
      entry(revoked, { serviceAccount: partner.name }),
      entry(ofDisabledOwner, { serviceAccount: account }),
    ]);
    assert.deepEqual(outcomes(res), ['ok', 'ok', 'ok', 'ok']);
    assert.equal((await validate(disabled)).active, false);
    assert.equal((await validate(expired)).active, false);
    await expectRpcError(
      call(gh.auth, 'exchangeApiKey', {}, { token: disabled }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    const listed = await call(
      gh.serviceAccounts,
      'listServiceAccountKeys',
      { serviceAccountId: partner.id, pageSize: 500, pageToken: '' },
      { token },
    );
    assert.ok(listed.apiKeys.find((k) => k.id === res.results[0]?.apiKeyId)?.revokeTime);

    assert.equal((await validate(revoked)).active, true);
    assert.equal((await validate(ofDisabledOwner)).active, true);
    await call(
      gh.serviceAccounts,
      'revokeServiceAccountKey',
      { serviceAccountId: partner.id, apiKeyId: res.results[2]?.apiKeyId ?? '' },
      { token },
    );
    await call(
      gh.serviceAccounts,
      'disableServiceAccount',
      { serviceAccountId: accountId },
      { token },
    );
    await eventually(
      () => Promise.all([validate(revoked), validate(ofDisabledOwner)]),
      (answers) => answers.every((v) => !v.active),
      { timeoutMs: 1000, intervalMs: 10, what: 'revoked key and disabled owner inactive' },
    );
  });

  it('the same secret twice is ALREADY_EXISTS per row, and nothing is duplicated', async () => {
    const secret = legacyStripe();
    const ghk = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: reader.id, displayName: '', roles: [] },
      { token },
    );
    const first = await importKeys([
      entry(secret, { serviceAccount: reader.name }),
      entry(secret, { serviceAccount: partner.name }),
      // A key Gatehouse issued is a well-formed secret too, and it is taken.
      entry(ghk.secret, { serviceAccount: reader.name }),
    ]);
    assert.deepEqual(outcomes(first), ['ok', 'ALREADY_EXISTS', 'ALREADY_EXISTS']);
    assert.equal(first.results[1]?.apiKeyId, '');
    // Re-running the batch, or importing the hash of the same secret, changes nothing.
    const again = await importKeys([
      entry(secret, { serviceAccount: reader.name }),
      {
        ...entry('', { serviceAccount: reader.name }),
        credential: { $case: 'secretSha256', value: sha256(secret).toString('hex') },
      },
    ]);
    assert.deepEqual(outcomes(again), ['ALREADY_EXISTS', 'ALREADY_EXISTS']);
    assert.match(again.results[0]?.errorMessage ?? '', /exists already/);
    const [count] = await gh.db.query<{ secrets: number; keys: number }>(
      `SELECT (SELECT count(*)::int FROM api_key_secrets WHERE secret_hash = $1) AS secrets,
              (SELECT count(*)::int FROM api_keys k JOIN api_key_secrets s ON s.api_key_id = k.id
               WHERE s.secret_hash = $1) AS keys`,
      [sha256(secret)],
    );
    assert.deepEqual(count, { secrets: 1, keys: 1 });
    const [orphans] = await gh.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM api_keys k
       WHERE NOT EXISTS (SELECT 1 FROM api_key_secrets s WHERE s.api_key_id = k.id)`,
    );
    assert.equal(orphans?.n, 0, 'no key without a secret was left behind');
    assert.equal((await validate(secret)).serviceAccountId, reader.id, 'the first import won');
  });

  it('refuses bad entries one by one with the reason, and imports the rest', async () => {
    const good = legacyUuid();
    const sa = { serviceAccount: partner.name };
    const res = await importKeys([
      entry(legacyUuid(), { email: uniqueEmail('nobody') }),
      entry(legacyUuid(), { serviceAccount: unique('no-such-account') }),
      entry(legacyUuid(), { serviceAccount: reader.name }, { roles: ['admin'] }),
      entry(legacyUuid(), sa, { roles: ['Not A Role'] }),
      entry('abc123def456', sa),
      entry('abcd efgh ijkl mnop qrst', sa),
      entry('header-segment.payload-segment.signature', sa),
      entry(`ghk_${'A'.repeat(49)}`, sa),
      entry(`key:${randomUUID()}`, sa),
      entry('', sa),
      {
        ...entry('', sa),
        credential: { $case: 'secretSha256', value: 'not-a-sha256' },
      },
      { ...entry(legacyUuid(), sa), owner: undefined },
      entry(legacyUuid(), { email: 'not an email' }),
      entry(legacyUuid(), sa, { createTime: new Date(Date.now() + 3_600_000) }),
      entry(legacyUuid(), sa, { displayName: 'x'.repeat(101) }),
      entry(good, sa),
    ]);
    assert.deepEqual(outcomes(res), [
      'USER_NOT_FOUND',
      'SERVICE_ACCOUNT_NOT_FOUND',
      'INVALID_ROLE',
      'INVALID_ROLE',
      'INVALID_SECRET',
      'INVALID_SECRET',
      'INVALID_SECRET',
      'INVALID_SECRET',
      'INVALID_SECRET',
      'INVALID_SECRET',
      'INVALID_SECRET',
      'VALIDATION_FAILED',
      'INVALID_EMAIL',
      'VALIDATION_FAILED',
      'VALIDATION_FAILED',
      'ok',
    ]);
    assert.equal(res.importedCount, 1);
    assert.equal(res.failedCount, 15);
    const message = (i: number) => res.results[i]?.errorMessage ?? '';
    assert.match(message(2), /roles its owner does not hold: admin/);
    assert.match(message(4), /shorter than 16 characters, so it can be guessed; rotate/);
    assert.match(message(5), /whitespace/);
    assert.match(message(6), /JWT/);
    assert.match(message(7), /ghk_/);
    assert.match(message(8), /bearer/);
    assert.deepEqual(
      res.results.map((r) => r.index),
      res.results.map((_, i) => i),
    );
    assert.equal((await validate(good)).active, true);

    for (const apiKeys of [[], Array.from({ length: 1001 }, () => entry(legacyUuid(), sa))]) {
      const s = await expectRpcError(
        importKeys(apiKeys),
        status.INVALID_ARGUMENT,
        'VALIDATION_FAILED',
      );
      assert.equal(s.fieldViolations?.[0]?.field, 'api_keys');
    }
  });

  it('imports a table of SHA-256 hashes: the key then validates with its secret', async () => {
    const secret = legacyStripe();
    const res = await importKeys([
      {
        ...entry('', { serviceAccount: partner.name }),
        credential: {
          $case: 'secretSha256',
          value: sha256(secret).toString('hex').toUpperCase(),
        },
      },
    ]);
    assert.deepEqual(outcomes(res), ['ok']);
    assert.equal(res.results[0]?.displayPrefix, '', 'nothing of the secret is known to show');
    const v = await validate(secret);
    assert.equal(v.active, true);
    assert.equal(v.apiKeyId, res.results[0]?.apiKeyId);
  });

  it('needs an admin, checked before any lookup, and audits every call once without secrets', async () => {
    const member = await registerUser(gh);
    const readerKey = legacyHex();
    await importKeys([entry(readerKey, { serviceAccount: reader.name })]);
    const probe = legacyUuid();
    const callers = [
      { who: 'no caller', token: undefined, code: 'UNAUTHENTICATED', outcome: 'failure' },
      { who: 'bad token', token: 'not.a.jwt', code: 'UNAUTHENTICATED', outcome: 'failure' },
      {
        who: 'unknown legacy key',
        token: legacyUuid(),
        code: 'UNAUTHENTICATED',
        outcome: 'failure',
      },
      {
        who: 'non-admin',
        token: member.tokens.accessToken,
        code: 'PERMISSION_DENIED',
        outcome: 'denied',
      },
      {
        who: 'non-admin legacy key',
        token: readerKey,
        code: 'PERMISSION_DENIED',
        outcome: 'denied',
      },
    ];
    // Valid entries and an invalid batch: a refused caller learns nothing about either.
    for (const apiKeys of [[entry(probe, { serviceAccount: partner.name })], []]) {
      for (const caller of callers) {
        const requestId = randomUUID();
        const error = await call(
          gh.serviceAccounts,
          'importApiKeys',
          { apiKeys },
          {
            ...(caller.token === undefined ? {} : { token: caller.token }),
            metadata: { 'x-request-id': requestId },
          },
        ).then(
          () => assert.fail(`${caller.who} imported`),
          (e: ServiceError) => e,
        );
        const s = rpcStatus(error);
        assert.equal(status[s.grpcCode], caller.code, caller.who);
        const rows = await gh.db.query<{ action: string; outcome: string }>(
          `SELECT action, outcome FROM audit_events WHERE request_id = $1`,
          [requestId],
        );
        assert.deepEqual(
          rows,
          [{ action: 'api_keys_import', outcome: caller.outcome }],
          caller.who,
        );
      }
    }
    assert.equal((await validate(probe)).active, false, 'nothing was imported');

    const secret = legacyStripe();
    const requestId = randomUUID();
    const res = await call(
      gh.serviceAccounts,
      'importApiKeys',
      {
        apiKeys: [
          entry(secret, { serviceAccount: partner.name }),
          entry(secret, { serviceAccount: partner.name }),
          entry('too-short-key', { serviceAccount: partner.name }),
        ],
      },
      { token, metadata: { 'x-request-id': requestId } },
    );
    const rows = await gh.db.query<{ action: string; outcome: string; details: object }>(
      `SELECT action, outcome, details FROM audit_events WHERE request_id = $1`,
      [requestId],
    );
    assert.deepEqual(rows, [
      {
        action: 'api_keys_import',
        outcome: 'success',
        details: { requested: 3, imported: 1, failed: 2, already_existed: 1 },
      },
    ]);
    const secrets = [secret, 'too-short-key'];
    const text = JSON.stringify(res);
    for (const s of secrets) {
      assert.equal(text.includes(s.slice(4)), false, 'no secret in the response');
    }
    const audit = JSON.stringify(await gh.db.query(`SELECT * FROM audit_events`));
    for (const s of secrets) {
      assert.equal(audit.includes(s.slice(4)), false, 'no secret in audit rows');
      assert.equal(audit.includes(sha256(s).toString('hex')), false, 'no hash in audit rows');
    }
  });

  it('JWT-shaped and bad-checksum credentials never reach the database; legacy-shaped ones do', async () => {
    // Proof by lock: while api_key_secrets is locked, any key lookup waits. An unknown
    // legacy-shaped key (the control) cannot be answered; the others are answered at once, so
    // they read nothing.
    await whileKeyLookupsBlocked(gh, legacyUuid(), async () => {
      const refused = [
        `${Buffer.from('{"alg":"RS256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.${randomBytes(32).toString('base64url')}`,
        'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
        `ghk_${'A'.repeat(49)}`,
        'short-garbage',
      ];
      for (const credential of refused) {
        const v = await call(
          gh.auth,
          'validateToken',
          { accessToken: credential },
          { deadlineMs: 30_000 },
        );
        assert.equal(v.active, false, credential);
        await expectRpcError(
          call(gh.admin, 'listUsers', LIST_USERS, { token: credential, deadlineMs: 30_000 }),
          status.UNAUTHENTICATED,
          'INVALID_ACCESS_TOKEN',
        );
      }
    });
  });
});

describe('ImportApiKeys under key limits', () => {
  let gh: Gatehouse;
  let token: string;
  before(async () => {
    gh = await startGatehouse({ API_KEY_MAX_TTL_DAYS: '30', API_KEY_MAX_PER_USER: '2' });
    const admin = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    token = admin.tokens.accessToken;
  });
  after(async () => {
    await gh.stop();
  });

  it("bounds a user's imported keys by the maximum lifetime and the live-key cap, as new keys", async () => {
    const user = await registerUser(gh);
    const owner = { email: user.email };
    const DAY = 86_400_000;
    const noExpiry = legacyUuid();
    const entries = [
      entry(noExpiry, owner),
      entry(legacyUuid(), owner, { expireTime: new Date(Date.now() + 60 * DAY) }),
      // Neither live: they do not count towards the cap.
      entry(legacyUuid(), owner, { expireTime: new Date(Date.now() - DAY) }),
      entry(legacyUuid(), owner, { disabled: true }),
      entry(legacyUuid(), owner, { expireTime: new Date(Date.now() + 10 * DAY) }),
      entry(legacyUuid(), owner),
    ];
    const call1 = await call(gh.serviceAccounts, 'importApiKeys', { apiKeys: entries }, { token });
    assert.deepEqual(outcomes(call1), [
      'ok',
      'VALIDATION_FAILED',
      'ok',
      'ok',
      'ok',
      'API_KEY_LIMIT_REACHED',
    ]);
    assert.match(call1.results[1]?.errorMessage ?? '', /at most 30 days from now/);
    assert.match(call1.results[5]?.errorMessage ?? '', /at most 2 live API keys/);
    const [row] = await gh.db.query<{ days: number }>(
      `SELECT round(extract(epoch FROM expires_at - now()) / 86400)::int AS days
       FROM api_keys WHERE id = $1`,
      [call1.results[0]?.apiKeyId],
    );
    assert.equal(row?.days, 30, 'no expiry given: exactly the maximum lifetime');
    // Re-running at the cap still tells what was imported already.
    const call2 = await call(gh.serviceAccounts, 'importApiKeys', { apiKeys: entries }, { token });
    assert.deepEqual(outcomes(call2), [
      'ALREADY_EXISTS',
      'VALIDATION_FAILED',
      'ALREADY_EXISTS',
      'ALREADY_EXISTS',
      'ALREADY_EXISTS',
      'API_KEY_LIMIT_REACHED',
    ]);
    assert.equal((await call(gh.auth, 'validateToken', { accessToken: noExpiry })).active, true);

    // The way off a legacy secret: the user rotates the key to a ghk_ one; both work for the
    // overlap, then only the new one.
    const rotated = await call(
      gh.apiKeys,
      'rotateApiKey',
      { apiKeyId: call1.results[0]?.apiKeyId ?? '', overlap: { seconds: '1', nanos: 0 } },
      { token: user.tokens.accessToken },
    );
    assert.match(rotated.secret, /^ghk_/);
    assert.equal(
      (await call(gh.auth, 'validateToken', { accessToken: rotated.secret })).active,
      true,
    );
    await eventually(
      () => call(gh.auth, 'validateToken', { accessToken: noExpiry }),
      (v) => !v.active,
      { what: 'the legacy secret ends with the overlap' },
    );
    const v = await call(gh.auth, 'validateToken', { accessToken: rotated.secret });
    assert.equal(v.apiKeyId, call1.results[0]?.apiKeyId, 'the same key, with a new secret');
  });
});

describe('legacy key guesses', () => {
  let gh: Gatehouse;
  let pool: DatabasePool;
  let admin: string;

  before(async () => {
    gh = await startGatehouse({ RATE_LIMIT_IP_CREDENTIAL_POINTS: '3' });
    pool = await keyPool(gh.db);
    admin = await adminKey(gh.db, pool);
  });
  after(async () => {
    await pool.end();
    await gh.stop();
  });

  it('spend the per-source credential budget before the lookup; live keys in use do not', async () => {
    const [sa] = await gh.db.query<{ name: string }>(
      `INSERT INTO service_accounts (name, roles) VALUES ($1, '{reader}') RETURNING name`,
      [unique('guessed')],
    );
    const live = legacyUuid();
    const untouched = legacyStripe();
    const res = await call(
      gh.serviceAccounts,
      'importApiKeys',
      {
        apiKeys: [
          entry(live, { serviceAccount: sa?.name ?? '' }),
          entry(untouched, { serviceAccount: sa?.name ?? '' }),
        ],
      },
      { token: admin },
    );
    assert.deepEqual(outcomes(res), ['ok', 'ok']);
    // Far more uses than the budget holds: a live key gets its point back.
    for (let i = 0; i < 10; i++) {
      assert.equal((await call(gh.auth, 'validateToken', { accessToken: live })).active, true);
      await call(gh.auth, 'exchangeApiKey', {}, { token: live });
    }
    // Three failed guesses use the budget up (as bearer and at ValidateToken alike) ...
    await expectRpcError(
      call(gh.auth, 'exchangeApiKey', {}, { token: legacyUuid() }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    for (let i = 0; i < 2; i++) {
      const v = await call(gh.auth, 'validateToken', { accessToken: legacyUuid() });
      assert.equal(v.active, false);
    }
    // ... then every lookup from this source is refused, even of a key that exists.
    for (const guess of [legacyUuid(), untouched]) {
      const s = await expectRpcError(
        call(gh.auth, 'exchangeApiKey', {}, { token: guess }),
        status.RESOURCE_EXHAUSTED,
        'RATE_LIMITED',
      );
      assert.ok(s.retryDelayMs, 'RetryInfo says when to retry');
      await expectRpcError(
        call(gh.auth, 'validateToken', { accessToken: guess }),
        status.RESOURCE_EXHAUSTED,
        'RATE_LIMITED',
      );
    }
    // Gatehouse's own keys are 256 random bits behind a checksum: not limited this way.
    await call(gh.auth, 'exchangeApiKey', {}, { token: admin });
  });
});

describe('imported secrets stay secret', () => {
  it('never appear in responses, log lines, audit rows or Redis values of a real server', async () => {
    const db = await createTestDatabase();
    const prefix = `ghtest:import:${randomBytes(3).toString('hex')}:`;
    const server = await spawnGatehouse({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
      LOG_LEVEL: 'trace',
      NODE_ENV: 'test',
    });
    const target = `127.0.0.1:${server.grpcPort}`;
    const auth = new AuthServiceClient(target, credentials.createInsecure());
    const admin = new UserAdminServiceClient(target, credentials.createInsecure());
    const accounts = new ServiceAccountAdminServiceClient(target, credentials.createInsecure());
    const pool = await keyPool(db);
    const redis = new Redis(redisUrl, { lazyConnect: true });
    try {
      const token = await adminKey(db, pool);
      const [sa] = await db.query<{ name: string }>(
        `INSERT INTO service_accounts (name, roles) VALUES ($1, '{admin}') RETURNING name`,
        [unique('leaky')],
      );
      const owner = { serviceAccount: sa?.name ?? '' };
      const live = legacyUuid();
      const disabled = legacyStripe();
      const refused = `short${randomBytes(4).toString('hex')}`;
      const unknown = legacyHex();
      const res = await call(
        accounts,
        'importApiKeys',
        {
          apiKeys: [
            entry(live, owner),
            entry(disabled, owner, { disabled: true }),
            entry(refused, owner),
            entry(live, owner),
          ],
        },
        { token },
      );
      assert.deepEqual(outcomes(res), ['ok', 'ok', 'INVALID_SECRET', 'ALREADY_EXISTS']);
      for (const secret of [live, disabled, unknown]) {
        await call(auth, 'validateToken', { accessToken: secret });
        await call(auth, 'exchangeApiKey', {}, { token: secret }).catch(() => {});
        await call(admin, 'listUsers', LIST_USERS, { token: secret }).catch(() => {});
      }
      await eventually(
        () => db.query(`SELECT 1 FROM audit_events WHERE action = 'api_key_denied'`),
        (rows) => rows.length > 0,
        { what: 'the denied use of the disabled key recorded' },
      );
      const secrets = [live, disabled, refused, unknown];
      // Anything past a display prefix (at most a quarter of the secret), or the stored hash.
      const needles = secrets.flatMap((s) => [
        s.slice(Math.floor(s.length / 4)),
        sha256(s).toString('hex'),
        sha256(s).toString('base64'),
      ]);
      const leaks = (text: string) => needles.filter((n) => text.includes(n));

      assert.deepEqual(leaks(JSON.stringify(res)), [], 'no secret in the response');
      assert.ok(server.logs.length > 10, 'the server logged the calls');
      assert.deepEqual(leaks(server.logs.map((l) => JSON.stringify(l)).join('\n')), []);
      const audit = await db.query(`SELECT * FROM audit_events`);
      assert.ok(audit.some((r) => (r as { action: string }).action === 'api_keys_import'));
      assert.deepEqual(leaks(JSON.stringify(audit)), [], 'no secret in audit rows');
      const values = await redisDump(redis, prefix);
      assert.ok(values.length > 0, 'the server wrote to Redis (rate limits)');
      assert.deepEqual(leaks(values.join('\n')), [], 'no secret in Redis keys or values');
    } finally {
      auth.close();
      admin.close();
      accounts.close();
      redis.disconnect();
      await pool.end();
      server.process.kill('SIGTERM');
      await server.exited;
      await db.drop();
    }
  });
});
