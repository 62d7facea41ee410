import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { generateApiKeySecret, hashApiKeySecret } from '../src/apiKeys/apiKeySecret.ts';
import { createApiKey } from '../src/apiKeys/createApiKey.ts';
import type { ApiKeyOwner, CreatedApiKey } from '../src/domain/ApiKey.ts';
import { UserAdminServiceClient } from '../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import {
  AuthServiceClient,
  PrincipalType,
  UserStatus,
  type ValidateTokenResponse,
} from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { AuthorizationServiceClient } from '../src/gen/gatehouse/authz/v1/authorization_service.ts';
import { createDatabase, type DatabasePool } from '../src/storage/createDatabase.ts';
import { eventually } from './helpers/eventually.ts';
import { redisDump } from './helpers/redisDump.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { createTestDatabase, redisUrl, type TestDatabase } from './helpers/testDatabase.ts';
import { registerUser } from './helpers/users.ts';
import { whileKeyLookupsBlocked } from './helpers/whileKeyLookupsBlocked.ts';

/** A slonik pool on the test database, for createApiKey (the function the admin service uses). */
async function keyPool(db: TestDatabase): Promise<DatabasePool> {
  return createDatabase({
    url: db.url,
    poolMax: 2,
    statementTimeoutMs: 10_000,
    connectTimeoutMs: 5000,
  });
}

/** A service account row, made with SQL as an operator would (its admin service is elsewhere). */
async function insertServiceAccount(db: TestDatabase, roles: string[]): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `INSERT INTO service_accounts (name, roles) VALUES ($1, $2) RETURNING id`,
    [`sa-${Math.random().toString(36).slice(2, 10)}`, roles],
  );
  assert.ok(row);
  return row.id;
}

/** No maximum lifetime, no cap: these tests make keys directly, whatever the server's limits. */
const NO_LIMITS = { userKeyMaxTtlMs: null, serviceAccountKeyMaxTtlMs: null, maxKeysPerUser: null };

function newKey(
  pool: DatabasePool,
  owner: ApiKeyOwner,
  roles: string[],
  expiresAt: Date | null = null,
): Promise<CreatedApiKey> {
  return pool.transaction((tx) =>
    createApiKey(tx, { owner, displayName: 'test key', roles, expiresAt }, NO_LIMITS),
  );
}

const validate = (gh: Gatehouse, token: string) =>
  call(gh.auth, 'validateToken', { accessToken: token });

/** The answer ValidateToken gives for anything that is not a live credential. */
const INACTIVE: ValidateTokenResponse = {
  active: false,
  userId: '',
  sessionId: '',
  roles: [],
  tokenId: '',
  issuer: '',
  audience: [],
  scope: '',
  principalType: PrincipalType.PRINCIPAL_TYPE_UNSPECIFIED,
  apiKeyId: '',
  serviceAccountId: '',
  organizationId: '',
  organizationRoles: [],
  permissions: [],
  amr: [],
  mfaEnrollmentRequired: false,
};

const LIST_USERS = {
  pageSize: 1,
  pageToken: '',
  query: '',
  role: '',
  status: UserStatus.USER_STATUS_UNSPECIFIED,
};

/** A response without its unset (undefined) fields, to compare with INACTIVE. */
const defined = (v: object) =>
  Object.fromEntries(Object.entries(v).filter(([, value]) => value !== undefined));

/** A key with the last character of its checksum changed: well-shaped, but not a key. */
function badChecksum(secret: string): string {
  return secret.slice(0, -1) + (secret.endsWith('A') ? 'B' : 'A');
}

describe('API keys', () => {
  let gh: Gatehouse;
  let pool: DatabasePool;

  before(async () => {
    gh = await startGatehouse();
    pool = await keyPool(gh.db);
  });
  after(async () => {
    await pool.end();
    await gh.stop();
  });

  it('ValidateToken answers a live service-account key with its principal and effective roles', async () => {
    const saId = await insertServiceAccount(gh.db, ['reader', 'writer']);
    const key = await newKey(pool, { kind: 'service_account', id: saId }, ['reader', 'writer']);
    assert.match(key.secret, /^ghk_[0-9A-Za-z]{49}$/);
    assert.equal(key.apiKey.displayPrefix, key.secret.slice(0, 8));
    const v = await validate(gh, key.secret);
    assert.equal(v.active, true);
    assert.equal(v.principalType, PrincipalType.PRINCIPAL_TYPE_SERVICE_ACCOUNT);
    assert.equal(v.serviceAccountId, saId);
    assert.equal(v.apiKeyId, key.apiKey.id);
    assert.equal(v.userId, '');
    assert.equal(v.sessionId, '');
    assert.deepEqual(v.roles, ['reader', 'writer']);
  });

  it("a user's own key is USER_API_KEY with the user's id, and a session token is USER_SESSION", async () => {
    const u = await registerUser(gh);
    await gh.db.query(`UPDATE users SET roles = '{reader}' WHERE id = $1`, [u.user.id]);
    const key = await newKey(pool, { kind: 'user', id: u.user.id }, ['reader']);
    const v = await validate(gh, key.secret);
    assert.equal(v.principalType, PrincipalType.PRINCIPAL_TYPE_USER_API_KEY);
    assert.equal(v.userId, u.user.id);
    assert.equal(v.apiKeyId, key.apiKey.id);
    assert.equal(v.serviceAccountId, '');
    assert.deepEqual(v.roles, ['reader']);
    const session = await validate(gh, u.tokens.accessToken);
    assert.equal(session.principalType, PrincipalType.PRINCIPAL_TYPE_USER_SESSION);
    assert.equal(session.apiKeyId, '');
  });

  it('createApiKey refuses roles the owner does not hold (INVALID_ARGUMENT on roles)', async () => {
    const saId = await insertServiceAccount(gh.db, ['reader']);
    await assert.rejects(newKey(pool, { kind: 'service_account', id: saId }, ['admin']), (e) => {
      assert.equal((e as { reason?: string }).reason, 'VALIDATION_FAILED');
      assert.equal(
        (e as { fieldViolations: { field: string }[] }).fieldViolations[0]?.field,
        'roles',
      );
      return true;
    });
  });

  it('revoked, expired, unknown and bad-checksum keys get the identical inactive answer', async () => {
    const saId = await insertServiceAccount(gh.db, ['reader']);
    const revoked = await newKey(pool, { kind: 'service_account', id: saId }, ['reader']);
    await gh.db.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [revoked.apiKey.id]);
    const expired = await newKey(
      pool,
      { kind: 'service_account', id: saId },
      ['reader'],
      new Date(Date.now() + 60_000),
    );
    await gh.db.query(
      `UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`,
      [expired.apiKey.id],
    );
    const live = await newKey(pool, { kind: 'service_account', id: saId }, ['reader']);
    const credentialsToTry = {
      revoked: revoked.secret,
      expired: expired.secret,
      unknown: generateApiKeySecret(),
      badChecksum: badChecksum(live.secret),
    };
    for (const [what, secret] of Object.entries(credentialsToTry)) {
      const v = await eventually(
        () => validate(gh, secret),
        (r) => !r.active,
        { what: `${what} key inactive` },
      );
      assert.deepEqual(defined(v), INACTIVE, what);
      // As a bearer: the same UNAUTHENTICATED answer as a bad access token.
      const s = await expectRpcError(
        call(gh.auth, 'exchangeApiKey', {}, { token: secret }),
        status.UNAUTHENTICATED,
        'INVALID_ACCESS_TOKEN',
      );
      assert.equal(s.message, 'the access token is invalid or expired', what);
    }
    assert.equal((await validate(gh, live.secret)).active, true);
  });

  it('a bad-checksum key is refused without reading the database', async () => {
    // Proof by lock: while another transaction holds ACCESS EXCLUSIVE on api_key_secrets, any
    // lookup of a key waits. A well-formed unknown key (the control) therefore cannot be
    // answered; a bad-checksum key is answered at once, so it read nothing.
    const saId = await insertServiceAccount(gh.db, ['reader']);
    const live = await newKey(pool, { kind: 'service_account', id: saId }, ['reader']);
    await whileKeyLookupsBlocked(gh, generateApiKeySecret(), async () => {
      const v = await call(
        gh.auth,
        'validateToken',
        { accessToken: badChecksum(live.secret) },
        { deadlineMs: 30_000 },
      );
      assert.deepEqual(defined(v), INACTIVE);
      await expectRpcError(
        call(
          gh.auth,
          'exchangeApiKey',
          {},
          { token: badChecksum(live.secret), deadlineMs: 30_000 },
        ),
        status.UNAUTHENTICATED,
        'INVALID_ACCESS_TOKEN',
      );
    });
  });

  it('ExchangeApiKey mints a JWT that verifies with the JWKS and validates as the key', async () => {
    const saId = await insertServiceAccount(gh.db, ['reader', 'writer']);
    const key = await newKey(pool, { kind: 'service_account', id: saId }, ['reader']);
    const res = await call(gh.auth, 'exchangeApiKey', {}, { token: key.secret });
    assert.equal(res.tokenType, 'Bearer');
    assert.ok(res.expireTime && res.expireTime.getTime() > Date.now());
    const { jwksJson } = await call(gh.auth, 'getJwks', {});
    const jwks = createLocalJWKSet(JSON.parse(jwksJson));
    const { payload, protectedHeader } = await jwtVerify(res.accessToken, jwks, {
      issuer: 'gatehouse',
      audience: 'gatehouse',
      typ: 'at+jwt',
    });
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.sub, saId);
    assert.equal(payload.principal_type, 'service_account');
    assert.equal(payload.api_key_id, key.apiKey.id);
    assert.deepEqual(payload.roles, ['reader']);
    assert.equal(payload.sid, undefined);
    assert.equal(payload.exp, Math.floor(res.expireTime.getTime() / 1000));

    const v = await validate(gh, res.accessToken);
    assert.equal(v.active, true);
    assert.equal(v.principalType, PrincipalType.PRINCIPAL_TYPE_SERVICE_ACCOUNT);
    assert.equal(v.serviceAccountId, saId);
    assert.equal(v.apiKeyId, key.apiKey.id);
    assert.equal(v.tokenId, payload.jti);

    // Only the key itself may be exchanged; session tokens and minted tokens are refused.
    await expectRpcError(
      call(gh.auth, 'exchangeApiKey', {}, { token: res.accessToken }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    const u = await registerUser(gh);
    await expectRpcError(
      call(gh.auth, 'exchangeApiKey', {}, { token: u.tokens.accessToken }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    // Password and session RPCs do not accept keys.
    await expectRpcError(
      call(gh.auth, 'getCurrentUser', {}, { token: key.secret }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    await expectRpcError(
      call(gh.auth, 'listSessions', { pageSize: 0, pageToken: '' }, { token: res.accessToken }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );

    const [audit] = await gh.db.query<Record<string, unknown>>(
      `SELECT actor_user_id, actor_service_account_id, api_key_id, outcome FROM audit_events
       WHERE action = 'api_key_exchange' AND api_key_id = $1`,
      [key.apiKey.id],
    );
    assert.deepEqual(audit, {
      actor_user_id: null,
      actor_service_account_id: saId,
      api_key_id: key.apiKey.id,
      outcome: 'success',
    });
  });

  it("role demotion of the owner shrinks the key's effective roles", async () => {
    const saId = await insertServiceAccount(gh.db, ['reader', 'writer']);
    const key = await newKey(pool, { kind: 'service_account', id: saId }, ['reader', 'writer']);
    const { accessToken } = await call(gh.auth, 'exchangeApiKey', {}, { token: key.secret });
    assert.deepEqual((await validate(gh, key.secret)).roles, ['reader', 'writer']);
    await gh.db.query(`UPDATE service_accounts SET roles = '{reader}' WHERE id = $1`, [saId]);
    await eventually(
      () => validate(gh, key.secret),
      (v) => v.active && v.roles.length === 1 && v.roles[0] === 'reader',
      { what: 'demoted key roles' },
    );
    const v = await validate(gh, accessToken);
    assert.deepEqual(v.roles, ['reader'], 'the minted token answers with the roles held now');
  });

  it('an admin key may call UserAdminService; the audit row names the service account and key', async () => {
    const saId = await insertServiceAccount(gh.db, ['admin']);
    const adminKey = await newKey(pool, { kind: 'service_account', id: saId }, ['admin']);
    const plainKey = await newKey(pool, { kind: 'service_account', id: saId }, []);
    const listed = await call(gh.admin, 'listUsers', LIST_USERS, {
      token: adminKey.secret,
      metadata: { 'x-request-id': 'key-admin-call' },
    });
    assert.ok(listed);
    const [row] = await gh.db.query<Record<string, unknown>>(
      `SELECT actor_user_id, actor_service_account_id, api_key_id, outcome FROM audit_events
       WHERE request_id = 'key-admin-call'`,
    );
    assert.deepEqual(row, {
      actor_user_id: null,
      actor_service_account_id: saId,
      api_key_id: adminKey.apiKey.id,
      outcome: 'success',
    });
    await expectRpcError(
      call(gh.admin, 'listUsers', LIST_USERS, {
        token: plainKey.secret,
      }),
      status.PERMISSION_DENIED,
      'ADMIN_ROLE_REQUIRED',
    );
    // The role check reads PostgreSQL: the demotion applies to the very next call.
    await gh.db.query(`UPDATE service_accounts SET roles = '{}' WHERE id = $1`, [saId]);
    await expectRpcError(
      call(gh.admin, 'listUsers', LIST_USERS, {
        token: adminKey.secret,
      }),
      status.PERMISSION_DENIED,
      'ADMIN_ROLE_REQUIRED',
    );
  });

  it('last_used_at is written at most once a minute per key', async () => {
    const saId = await insertServiceAccount(gh.db, ['reader']);
    const key = await newKey(pool, { kind: 'service_account', id: saId }, ['reader']);
    const lastUsed = async () =>
      (
        await gh.db.query<{ t: string | null }>(
          `SELECT last_used_at::text AS t FROM api_keys WHERE id = $1`,
          [key.apiKey.id],
        )
      )[0]?.t ?? null;
    assert.equal(await lastUsed(), null);
    await validate(gh, key.secret);
    const first = await eventually(lastUsed, (t) => t !== null, { what: 'last_used_at written' });
    for (let i = 0; i < 5; i++) {
      await validate(gh, key.secret);
      await call(gh.auth, 'exchangeApiKey', {}, { token: key.secret });
    }
    // A second instance, which has not seen the key: its write is a no-op within the minute.
    const other = await startGatehouse({}, gh.db);
    try {
      await validate(other, key.secret);
      await validate(other, key.secret);
    } finally {
      await other.stop();
    }
    assert.equal(await lastUsed(), first);
    // Once the recorded use is older than a minute, the next use writes again.
    await gh.db.query(
      `UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`,
      [key.apiKey.id],
    );
    const aged = await lastUsed();
    const third = await startGatehouse({}, gh.db);
    try {
      await validate(third, key.secret);
      await eventually(lastUsed, (t) => t !== aged, { what: 'last_used_at written again' });
    } finally {
      await third.stop();
    }
  });
});

describe('API keys on two instances', () => {
  let db: TestDatabase;
  let a: Gatehouse;
  let b: Gatehouse;
  let pool: DatabasePool;

  before(async () => {
    db = await createTestDatabase();
    a = await startGatehouse({}, db);
    b = await startGatehouse({}, db);
    pool = await keyPool(db);
  });
  after(async () => {
    await pool.end();
    await a.stop();
    await b.stop();
    await db.drop();
  });

  it('disabling the owner ends its key and minted token on both instances within 1 s', async () => {
    const saId = await insertServiceAccount(db, ['reader']);
    const key = await newKey(pool, { kind: 'service_account', id: saId }, ['reader']);
    const { accessToken } = await call(a.auth, 'exchangeApiKey', {}, { token: key.secret });
    // Both instances have the key's state cached as live.
    for (const gh of [a, b]) {
      assert.equal((await validate(gh, key.secret)).active, true);
      assert.equal((await validate(gh, accessToken)).active, true);
    }
    await db.query(`UPDATE service_accounts SET status = 'disabled' WHERE id = $1`, [saId]);
    // The bound of the wait is the requirement: everything inactive within one second.
    await eventually(
      async () =>
        Promise.all([a, b].flatMap((gh) => [validate(gh, key.secret), validate(gh, accessToken)])),
      (answers) => answers.every((v) => !v.active),
      { timeoutMs: 1000, intervalMs: 10, what: 'key and token inactive on both instances' },
    );
    await expectRpcError(
      call(b.auth, 'exchangeApiKey', {}, { token: key.secret }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    const [denied] = await db.query<Record<string, unknown>>(
      `SELECT outcome, details->>'reason' AS reason FROM audit_events
       WHERE action = 'api_key_denied' AND api_key_id = $1 LIMIT 1`,
      [key.apiKey.id],
    );
    assert.deepEqual(denied, { outcome: 'denied', reason: 'owner_disabled' });
  });

  it('revoking a key ends it on both instances within 1 s', async () => {
    const saId = await insertServiceAccount(db, ['reader']);
    const key = await newKey(pool, { kind: 'service_account', id: saId }, ['reader']);
    for (const gh of [a, b]) assert.equal((await validate(gh, key.secret)).active, true);
    await db.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [key.apiKey.id]);
    await eventually(
      async () => Promise.all([a, b].map((gh) => validate(gh, key.secret))),
      (answers) => answers.every((v) => !v.active),
      { timeoutMs: 1000, intervalMs: 10, what: 'revoked key inactive on both instances' },
    );
  });
});

describe('API key budgets', () => {
  let gh: Gatehouse;
  let pool: DatabasePool;

  before(async () => {
    gh = await startGatehouse({
      RATE_LIMIT_API_KEY_POINTS: '3',
      RATE_LIMIT_IP_CREDENTIAL_POINTS: '2',
    });
    pool = await keyPool(gh.db);
  });
  after(async () => {
    await pool.end();
    await gh.stop();
  });

  it('every call with a key spends its own budget: RESOURCE_EXHAUSTED with RetryInfo', async () => {
    const saId = await insertServiceAccount(gh.db, ['reader']);
    const key = await newKey(pool, { kind: 'service_account', id: saId }, ['reader']);
    for (let i = 0; i < 3; i++) await call(gh.auth, 'exchangeApiKey', {}, { token: key.secret });
    const s = await expectRpcError(
      call(gh.auth, 'exchangeApiKey', {}, { token: key.secret }),
      status.RESOURCE_EXHAUSTED,
      'RATE_LIMITED',
    );
    assert.ok(s.retryDelayMs, 'RetryInfo says when to retry');
    // Another key of the same owner has a budget of its own.
    const other = await newKey(pool, { kind: 'service_account', id: saId }, ['reader']);
    await call(gh.auth, 'exchangeApiKey', {}, { token: other.secret });
  });

  it('permission checks spend no key budget: resource servers ask on every request', async () => {
    await gh.db.query(
      `INSERT INTO permissions (name) VALUES ('authz:check') ON CONFLICT DO NOTHING`,
    );
    await gh.db.query(
      `WITH r AS (INSERT INTO roles (name, scope) VALUES ('checker', 'global') RETURNING id)
       INSERT INTO role_permissions (role_id, permission) SELECT id, 'authz:check' FROM r`,
    );
    const saId = await insertServiceAccount(gh.db, ['checker']);
    const key = await newKey(pool, { kind: 'service_account', id: saId }, ['checker']);
    const authz = new AuthorizationServiceClient(gh.target, credentials.createInsecure());
    try {
      const check = {
        principal: {
          $case: 'subject' as const,
          value: { id: { $case: 'serviceAccountId' as const, value: saId } },
        },
        permission: 'authz:check',
        organizationId: '',
      };
      // Twice the key's budget of 3: every check answers.
      for (let i = 0; i < 6; i++) {
        const res = await call(authz, 'checkPermission', check, { token: key.secret });
        assert.equal(res.allowed, true);
      }
      await call(authz, 'batchCheckPermissions', { checks: [check] }, { token: key.secret });
      // The key's budget is untouched and still applies to everything else.
      for (let i = 0; i < 3; i++) await call(gh.auth, 'exchangeApiKey', {}, { token: key.secret });
      await expectRpcError(
        call(gh.auth, 'exchangeApiKey', {}, { token: key.secret }),
        status.RESOURCE_EXHAUSTED,
        'RATE_LIMITED',
      );
    } finally {
      authz.close();
    }
  });

  it('failed key presentations spend the per-source credential budget', async () => {
    for (let i = 0; i < 2; i++) {
      await expectRpcError(
        call(gh.auth, 'exchangeApiKey', {}, { token: generateApiKeySecret() }),
        status.UNAUTHENTICATED,
        'INVALID_ACCESS_TOKEN',
      );
    }
    const s = await expectRpcError(
      call(gh.auth, 'exchangeApiKey', {}, { token: generateApiKeySecret() }),
      status.RESOURCE_EXHAUSTED,
      'RATE_LIMITED',
    );
    assert.ok(s.retryDelayMs);
  });
});

describe('API key secrets stay secret', () => {
  it('never appear in log lines, audit rows or Redis values of a real server', async () => {
    const db = await createTestDatabase();
    const prefix = `ghtest:keys:${Math.random().toString(36).slice(2, 8)}:`;
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
    const pool = await keyPool(db);
    const redis = new Redis(redisUrl, { lazyConnect: true });
    try {
      const saId = await insertServiceAccount(db, ['admin']);
      const key = await newKey(pool, { kind: 'service_account', id: saId }, ['admin']);
      const dead = await newKey(pool, { kind: 'service_account', id: saId }, ['admin']);
      await db.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [dead.apiKey.id]);
      await call(auth, 'validateToken', { accessToken: key.secret });
      const { accessToken } = await call(auth, 'exchangeApiKey', {}, { token: key.secret });
      await call(auth, 'validateToken', { accessToken });
      await call(admin, 'listUsers', LIST_USERS, {
        token: key.secret,
      });
      await call(admin, 'listUsers', LIST_USERS, {
        token: accessToken,
      });
      for (const secret of [dead.secret, badChecksum(key.secret)]) {
        await call(auth, 'validateToken', { accessToken: secret });
        await call(auth, 'exchangeApiKey', {}, { token: secret }).catch(() => {});
        await call(admin, 'listUsers', LIST_USERS, {
          token: secret,
        }).catch(() => {});
      }
      // The denied use is audited, so the server has handled the calls above.
      await eventually(
        () => db.query(`SELECT 1 FROM audit_events WHERE action = 'api_key_denied'`),
        (rows) => rows.length > 0,
        { what: 'the denied use recorded' },
      );
      const secrets = [key.secret, dead.secret, badChecksum(key.secret)];
      // Enough of a secret to use it (anything past the display prefix), or its stored hash.
      const needles = secrets.flatMap((s) => [
        s.slice(8),
        hashApiKeySecret(s).toString('hex'),
        hashApiKeySecret(s).toString('base64'),
      ]);
      const leaks = (text: string) => needles.some((n) => text.includes(n));

      const logText = server.logs.map((l) => JSON.stringify(l)).join('\n');
      assert.ok(server.logs.length > 10, 'the server logged the calls');
      assert.equal(leaks(logText), false, 'no secret in the log lines');

      const audit = await db.query(`SELECT * FROM audit_events`);
      assert.ok(audit.length >= 3);
      assert.equal(leaks(JSON.stringify(audit)), false, 'no secret in audit rows');

      const values = await redisDump(redis, prefix);
      assert.ok(values.length > 0, 'the server wrote to Redis (rate limits)');
      assert.equal(leaks(values.join('\n')), false, 'no secret in Redis keys or values');
    } finally {
      auth.close();
      admin.close();
      redis.disconnect();
      await pool.end();
      server.process.kill('SIGTERM');
      await server.exited;
      await db.drop();
    }
  });
});
