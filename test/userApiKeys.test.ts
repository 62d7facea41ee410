import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import type { ApiKey } from '../src/gen/gatehouse/auth/v1/api_key.ts';
import {
  ApiKeyServiceClient,
  ApiKeyServiceService,
} from '../src/gen/gatehouse/auth/v1/api_key_service.ts';
import { AuthServiceClient, PrincipalType } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { eventually } from './helpers/eventually.ts';
import { expectRpcError, rpcStatus } from './helpers/rpcError.ts';
import { spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { createTestDatabase, redisUrl } from './helpers/testDatabase.ts';
import { registerUser } from './helpers/users.ts';

const KEY = /^ghk_[0-9A-Za-z]{49}$/;
const DAY_MS = 86_400_000;
// Small limits, so the tests reach them: each test uses users of its own.
const MAX_TTL_DAYS = 30;
const MAX_PER_USER = 4;
const SA_MAX_TTL_DAYS = 10;

interface AuditRow {
  action: string;
  outcome: string;
  actor_user_id: string | null;
  api_key_id: string | null;
  subject_user_id: string | null;
  details: Record<string, unknown>;
}

type AnyRequest = Record<string, unknown>;

/** A registered user holding `roles` (set by SQL, as an operator could), with a session. */
async function registeredWith(gh: Gatehouse, roles: string[]) {
  const u = await registerUser(gh);
  await gh.db.query(`UPDATE users SET roles = $2 WHERE id = $1`, [u.user.id, roles]);
  return { id: u.user.id, token: u.tokens.accessToken };
}

describe('ApiKeyService: a user manages their own API keys', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse({
      API_KEY_MAX_TTL_DAYS: String(MAX_TTL_DAYS),
      API_KEY_MAX_PER_USER: String(MAX_PER_USER),
      SERVICE_ACCOUNT_KEY_MAX_TTL_DAYS: String(SA_MAX_TTL_DAYS),
    });
  });
  after(async () => {
    await gh.stop();
  });

  const userWith = (roles: string[] = []) => registeredWith(gh, roles);
  const createKey = (token: string, request: AnyRequest = {}) =>
    call(gh.apiKeys, 'createApiKey', { displayName: '', roles: [], ...request } as never, {
      token,
    });
  const validate = (secret: string) => call(gh.auth, 'validateToken', { accessToken: secret });
  const isActive = async (secret: string) => (await validate(secret)).active;
  const auditOf = async (requestId: string) =>
    gh.db.query<AuditRow>(
      `SELECT action, outcome, actor_user_id, api_key_id, subject_user_id, details
       FROM audit_events WHERE request_id = $1 AND action <> 'api_key_denied'`,
      [requestId],
    );
  const adminToken = async () => (await userWith(['admin'])).token;

  it('guards EVERY method: sessions for all, own keys for reads and revocation only', async () => {
    const owner = await userWith(['reader']);
    const ownKey = await createKey(owner.token, { roles: ['reader'] });
    const admin = await adminToken();
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: `uk-${randomUUID().slice(0, 8)}`, displayName: '', description: '', roles: [] },
      { token: admin },
    );
    const saKey = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: sa.serviceAccount?.id ?? '', displayName: '', roles: [] },
      { token: admin },
    );
    const methods = Object.entries(ApiKeyServiceService);
    assert.equal(methods.length, 5, 'the service definition lists the five RPCs');
    const audited = new Set(['createApiKey', 'revokeApiKey', 'rotateApiKey']);
    const sessionOnly = new Set(['createApiKey', 'rotateApiKey']);
    const callers = [
      { who: 'no token', token: undefined },
      { who: 'bad token', token: 'not.a.jwt' },
      { who: 'bad key', token: `ghk_${'A'.repeat(49)}` },
      { who: 'service-account key', token: saKey.secret },
      { who: 'session', token: owner.token },
      { who: 'own key', token: ownKey.secret },
    ];
    for (const [name, method] of methods) {
      for (const caller of callers) {
        // A request about a key that does not exist: no call may change real state.
        const req = (method.requestDeserialize as (b: Buffer) => unknown)(
          Buffer.alloc(0),
        ) as AnyRequest;
        if ('apiKeyId' in req) req.apiKeyId = randomUUID();
        const requestId = randomUUID();
        let error: unknown;
        try {
          await call(gh.apiKeys, name as never, req as never, {
            ...(caller.token === undefined ? {} : { token: caller.token }),
            metadata: { 'x-request-id': requestId },
          });
        } catch (e) {
          error = e;
        }
        const admitted =
          caller.who === 'session' || (caller.who === 'own key' && !sessionOnly.has(name));
        let outcome: string;
        if (!admitted) {
          const s = rpcStatus(error);
          assert.equal(status[s.grpcCode], 'UNAUTHENTICATED', `${name} by ${caller.who}`);
          assert.equal(s.errorInfo?.reason, 'INVALID_ACCESS_TOKEN');
          outcome = 'failure';
        } else if (name === 'listApiKeys') {
          assert.equal(error, undefined, `${name} by ${caller.who}`);
          outcome = 'success';
        } else if (name === 'createApiKey') {
          // The session's create succeeds with the defaults: a key without roles.
          assert.equal(error, undefined, `${name} by ${caller.who}`);
          outcome = 'success';
        } else {
          const s = rpcStatus(error);
          assert.equal(status[s.grpcCode], 'NOT_FOUND', `${name} by ${caller.who}`);
          assert.equal(s.errorInfo?.reason, 'API_KEY_NOT_FOUND');
          outcome = 'failure';
        }
        const rows = await auditOf(requestId);
        if (!audited.has(name)) {
          assert.equal(rows.length, 0, `${name} by ${caller.who} writes no audit event`);
          continue;
        }
        assert.equal(rows.length, 1, `${name} by ${caller.who}: exactly one audit event`);
        const [row] = rows;
        assert.equal(row?.outcome, outcome, `${name} by ${caller.who}`);
        assert.match(row?.action ?? '', /^api_key_(create|revoke|rotate)$/);
        if (admitted) {
          assert.equal(row?.actor_user_id, owner.id, `${name} by ${caller.who}: actor`);
          assert.equal(row?.subject_user_id, owner.id, `${name} by ${caller.who}: subject`);
          const key = caller.who === 'own key' ? ownKey.apiKey?.id : null;
          assert.equal(row?.api_key_id, key, `${name} by ${caller.who}: the key used`);
        }
      }
    }
  });

  it('creates keys with roles the user holds, none by default, within the maximum lifetime', async () => {
    const u = await userWith(['reader', 'writer']);
    const requestId = randomUUID();
    const created = await call(
      gh.apiKeys,
      'createApiKey',
      { displayName: ' laptop ', roles: ['writer', 'reader', 'writer'] },
      { token: u.token, metadata: { 'x-request-id': requestId } },
    );
    const key = created.apiKey;
    assert.ok(key);
    assert.match(created.secret, KEY);
    assert.equal(key.userId, u.id);
    assert.equal(key.serviceAccountId, '');
    assert.equal(key.displayName, 'laptop');
    assert.deepEqual(key.roles, ['reader', 'writer'], 'sorted, no duplicates');
    assert.equal(key.displayPrefix, created.secret.slice(0, 8));
    assert.equal(key.revokeTime, undefined);
    // No expire_time: exactly the maximum lifetime from its creation.
    assert.ok(key.createTime && key.expireTime);
    assert.ok(
      Math.abs(key.expireTime.getTime() - key.createTime.getTime() - MAX_TTL_DAYS * DAY_MS) <
        60_000,
      `expires ${MAX_TTL_DAYS} days after creation`,
    );
    const [row] = await auditOf(requestId);
    assert.equal(row?.action, 'api_key_create');
    assert.equal(row?.outcome, 'success');
    assert.equal(row?.subject_user_id, u.id);
    assert.equal(row?.details.key_id, key.id);
    assert.equal(row?.details.roles, 'reader,writer');
    assert.ok(!JSON.stringify(row).includes(created.secret), 'no secret in the audit row');

    // The key is a bearer credential of the user, with the roles it asked for.
    const v = await validate(created.secret);
    assert.equal(v.active, true);
    assert.equal(v.principalType, PrincipalType.PRINCIPAL_TYPE_USER_API_KEY);
    assert.equal(v.userId, u.id);
    assert.equal(v.apiKeyId, key.id);
    assert.deepEqual(v.roles, ['reader', 'writer']);

    // Empty roles: a key that holds none, whatever the user holds.
    const bare = await createKey(u.token);
    assert.deepEqual(bare.apiKey?.roles, []);
    assert.deepEqual((await validate(bare.secret)).roles, []);

    const expireTime = new Date(Date.now() + 2 * DAY_MS);
    const dated = await createKey(u.token, { expireTime });
    assert.equal(dated.apiKey?.expireTime?.getTime(), expireTime.getTime());
  });

  it('refuses roles the user does not hold, bad fields, and an expiry beyond the maximum', async () => {
    const u = await userWith(['reader']);
    const notHeld = await expectRpcError(
      createKey(u.token, { roles: ['reader', 'admin'] }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(notHeld.fieldViolations?.[0]?.field, 'roles');
    assert.match(notHeld.fieldViolations?.[0]?.description ?? '', /admin/);
    const bad = await expectRpcError(
      createKey(u.token, {
        displayName: 'x'.repeat(101),
        roles: ['Not A Role'],
        expireTime: new Date(Date.now() - 1000),
      }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual((bad.fieldViolations ?? []).map((v) => v.field).sort(), [
      'display_name',
      'expire_time',
      'roles[0]',
    ]);
    const tooLong = await expectRpcError(
      createKey(u.token, { expireTime: new Date(Date.now() + (MAX_TTL_DAYS + 1) * DAY_MS) }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(tooLong.fieldViolations?.[0]?.field, 'expire_time');
    assert.match(tooLong.fieldViolations?.[0]?.description ?? '', /at most 30 days/);
    const [{ count } = { count: -1 }] = await gh.db.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM api_keys WHERE owner_user_id = $1`,
      [u.id],
    );
    assert.equal(count, 0, 'no refused request made a key');
  });

  it('caps the live keys of a user (FAILED_PRECONDITION API_KEY_LIMIT_REACHED)', async () => {
    const u = await userWith();
    const keys = [];
    for (let i = 0; i < MAX_PER_USER; i++) keys.push(await createKey(u.token));
    await expectRpcError(createKey(u.token), status.FAILED_PRECONDITION, 'API_KEY_LIMIT_REACHED');
    // Revoked (and expired) keys do not count.
    await call(gh.apiKeys, 'revokeApiKey', { apiKeyId: keys[0]?.apiKey?.id ?? '' }, u);
    await gh.db.query(`UPDATE api_keys SET expires_at = now() WHERE id = $1`, [
      keys[1]?.apiKey?.id,
    ]);
    await createKey(u.token);
    await createKey(u.token);
    await expectRpcError(createKey(u.token), status.FAILED_PRECONDITION, 'API_KEY_LIMIT_REACHED');
  });

  it("lists only the caller's keys, revoked ones with revoke_time, page by page", async () => {
    const u = await userWith(['reader']);
    const other = await userWith(['reader']);
    await createKey(other.token);
    const made = [];
    for (const name of ['one', 'two', 'three']) {
      made.push((await createKey(u.token, { displayName: name })).apiKey as ApiKey);
    }
    await call(gh.apiKeys, 'revokeApiKey', { apiKeyId: made[1]?.id ?? '' }, u);
    const seen: ApiKey[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await call(gh.apiKeys, 'listApiKeys', { pageSize: 2, pageToken }, u);
      assert.ok(page.apiKeys.length <= 2);
      seen.push(...page.apiKeys);
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== '');
    assert.equal(pages, 2);
    assert.deepEqual(
      seen.map((k) => k.displayName),
      ['one', 'two', 'three'],
      'oldest first, own keys only',
    );
    assert.ok(seen.every((k) => k.userId === u.id));
    assert.ok(seen[1]?.revokeTime, 'the revoked key is listed with its revoke_time');
    assert.equal(seen[0]?.revokeTime, undefined);
    // A key of the user lists them too (never a secret in a listing).
    const key = await createKey(u.token, { roles: ['reader'] });
    const byKey = await call(
      gh.apiKeys,
      'listApiKeys',
      { pageSize: 0, pageToken: '' },
      {
        token: key.secret,
      },
    );
    assert.equal(byKey.apiKeys.length, 4);
    assert.ok(!JSON.stringify(byKey).includes(key.secret));

    const first = await call(gh.apiKeys, 'listApiKeys', { pageSize: 1, pageToken: '' }, u);
    await expectRpcError(
      call(gh.apiKeys, 'listApiKeys', { pageSize: 1, pageToken: first.nextPageToken }, other),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    await expectRpcError(
      call(gh.apiKeys, 'listApiKeys', { pageSize: -1, pageToken: '' }, u),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
  });

  it("gets the caller's key; another user's key is NOT_FOUND like an unknown id", async () => {
    const u = await userWith();
    const other = await userWith();
    const mine = await createKey(u.token, { displayName: 'mine' });
    const theirs = await createKey(other.token);
    const got = await call(
      gh.apiKeys,
      'getApiKey',
      { apiKeyId: (mine.apiKey?.id ?? '').toUpperCase() },
      u,
    );
    assert.deepEqual(got.apiKey, mine.apiKey);
    assert.ok(!JSON.stringify(got).includes(mine.secret));
    const foreign = await expectRpcError(
      call(gh.apiKeys, 'getApiKey', { apiKeyId: theirs.apiKey?.id ?? '' }, u),
      status.NOT_FOUND,
      'API_KEY_NOT_FOUND',
    );
    const unknown = await expectRpcError(
      call(gh.apiKeys, 'getApiKey', { apiKeyId: randomUUID() }, u),
      status.NOT_FOUND,
      'API_KEY_NOT_FOUND',
    );
    assert.equal(foreign.message, unknown.message, 'the same answer: ids cannot be probed');
    await expectRpcError(
      call(gh.apiKeys, 'getApiKey', { apiKeyId: 'not-a-uuid' }, u),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
  });

  it('revokes idempotently, a key may revoke itself, and revocation reaches the key at once', async () => {
    const u = await userWith(['reader']);
    const other = await userWith();
    const key = await createKey(u.token, { roles: ['reader'] });
    const id = key.apiKey?.id ?? '';
    assert.equal(await isActive(key.secret), true);
    const requestId = randomUUID();
    const revoked = await call(
      gh.apiKeys,
      'revokeApiKey',
      { apiKeyId: id },
      { token: u.token, metadata: { 'x-request-id': requestId } },
    );
    const revokeTime = revoked.apiKey?.revokeTime;
    assert.ok(revokeTime);
    await eventually(
      () => isActive(key.secret),
      (active) => !active,
      {
        what: 'the revoked key is inactive',
      },
    );
    const again = await call(gh.apiKeys, 'revokeApiKey', { apiKeyId: id }, u);
    assert.equal(again.apiKey?.revokeTime?.getTime(), revokeTime.getTime(), 'the first time stays');
    const [row] = await auditOf(requestId);
    assert.equal(row?.action, 'api_key_revoke');
    assert.equal(row?.details.key_id, id);
    assert.equal(row?.subject_user_id, u.id);

    await expectRpcError(
      call(gh.apiKeys, 'revokeApiKey', { apiKeyId: id }, other),
      status.NOT_FOUND,
      'API_KEY_NOT_FOUND',
    );
    // A key revoking itself: then it is dead, also for the next call it makes.
    const self = await createKey(u.token);
    await call(
      gh.apiKeys,
      'revokeApiKey',
      { apiKeyId: self.apiKey?.id ?? '' },
      {
        token: self.secret,
      },
    );
    await eventually(
      () => isActive(self.secret),
      (active) => !active,
      {
        what: 'the self-revoked key is inactive',
      },
    );
    await expectRpcError(
      call(gh.apiKeys, 'listApiKeys', { pageSize: 0, pageToken: '' }, { token: self.secret }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
  });

  it('rotates: a new secret for the same key, the old one alive for the overlap, then dead', async () => {
    const u = await userWith(['reader']);
    const key = await createKey(u.token, { roles: ['reader'], displayName: 'ci' });
    const id = key.apiKey?.id ?? '';
    const rotate = (overlap: { seconds: string; nanos: number } | undefined, extra = {}) =>
      call(gh.apiKeys, 'rotateApiKey', { apiKeyId: id, overlap, ...extra }, u);

    // A long overlap: both secrets work, as the same key.
    const hour = await rotate({ seconds: '3600', nanos: 0 });
    assert.match(hour.secret, KEY);
    assert.notEqual(hour.secret, key.secret);
    assert.equal(hour.apiKey?.id, id);
    assert.equal(hour.apiKey?.displayName, 'ci');
    assert.deepEqual(hour.apiKey?.roles, ['reader']);
    assert.equal(hour.apiKey?.displayPrefix, hour.secret.slice(0, 8));
    for (const secret of [key.secret, hour.secret]) {
      const v = await validate(secret);
      assert.equal(v.active, true);
      assert.equal(v.apiKeyId, id);
    }
    const got = await call(gh.apiKeys, 'getApiKey', { apiKeyId: id }, u);
    assert.equal(got.apiKey?.displayPrefix, hour.secret.slice(0, 8), 'the newest secret shows');

    // Another rotation with a longer overlap keeps the first secret's sooner end.
    const week = await rotate({ seconds: String(7 * 86_400), nanos: 0 });
    const ends = await gh.db.query<{ display_prefix: string; ends_in_sec: number | null }>(
      `SELECT display_prefix, extract(epoch FROM expires_at - now())::float8 AS ends_in_sec
       FROM api_key_secrets WHERE api_key_id = $1 ORDER BY id`,
      [id],
    );
    assert.equal(ends.length, 3);
    assert.ok((ends[0]?.ends_in_sec ?? 0) <= 3600, 'the first secret still ends within the hour');
    assert.ok((ends[1]?.ends_in_sec ?? 0) > 3600, 'the second ends a week after the rotation');
    assert.equal(ends[2]?.ends_in_sec, null, 'the newest does not end by itself');

    // A short overlap: the earlier secrets die at its end, on their own (no further change).
    const requestId = randomUUID();
    const short = await call(
      gh.apiKeys,
      'rotateApiKey',
      { apiKeyId: id, overlap: { seconds: '1', nanos: 500_000_000 } },
      { token: u.token, metadata: { 'x-request-id': requestId } },
    );
    for (const old of [key.secret, hour.secret, week.secret]) {
      await eventually(
        () => isActive(old),
        (active) => !active,
        {
          what: 'an earlier secret is inactive after the overlap',
        },
      );
    }
    assert.equal(await isActive(short.secret), true, 'the newest secret still works');
    const [row] = await auditOf(requestId);
    assert.equal(row?.action, 'api_key_rotate');
    assert.equal(row?.outcome, 'success');
    assert.equal(row?.details.key_id, id);
    assert.equal(row?.details.overlap_sec, 1.5);
    assert.equal(row?.subject_user_id, u.id);
    assert.ok(!JSON.stringify(row).includes(short.secret), 'no secret in the audit row');

    // Overlap 0 (or unset): the earlier secret stops at once.
    const now = await rotate(undefined);
    await eventually(
      () => isActive(short.secret),
      (active) => !active,
      {
        what: 'the secret rotated away without overlap is inactive',
      },
    );
    assert.equal(await isActive(now.secret), true);
  });

  it('refuses bad overlaps and expiries, and dead or foreign keys, before changing anything', async () => {
    const u = await userWith();
    const other = await userWith();
    const key = await createKey(u.token);
    const id = key.apiKey?.id ?? '';
    const rotate = (request: AnyRequest, who = u) =>
      call(gh.apiKeys, 'rotateApiKey', { apiKeyId: id, ...request } as never, who);
    for (const overlap of [
      { seconds: String(7 * 86_400 + 1), nanos: 0 },
      { seconds: '-1', nanos: 0 },
      { seconds: '1', nanos: -5 },
    ]) {
      const s = await expectRpcError(
        rotate({ overlap }),
        status.INVALID_ARGUMENT,
        'VALIDATION_FAILED',
      );
      assert.equal(s.fieldViolations?.[0]?.field, 'overlap', JSON.stringify(overlap));
    }
    const beyond = await expectRpcError(
      rotate({ expireTime: new Date(Date.now() + (MAX_TTL_DAYS + 1) * DAY_MS) }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(beyond.fieldViolations?.[0]?.field, 'expire_time');
    await expectRpcError(rotate({}, other), status.NOT_FOUND, 'API_KEY_NOT_FOUND');
    await expectRpcError(
      call(gh.apiKeys, 'rotateApiKey', { apiKeyId: randomUUID() }, u),
      status.NOT_FOUND,
      'API_KEY_NOT_FOUND',
    );
    const [{ count } = { count: -1 }] = await gh.db.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM api_key_secrets WHERE api_key_id = $1`,
      [id],
    );
    assert.equal(count, 1, 'no refused rotation added a secret');
    assert.equal(await isActive(key.secret), true, 'nor ended the old one');

    // A key without expiry (made before a maximum was configured) is brought under it.
    await gh.db.query(`UPDATE api_keys SET expires_at = NULL WHERE id = $1`, [id]);
    const bounded = await rotate({});
    const expires = bounded.apiKey?.expireTime?.getTime() ?? 0;
    assert.ok(Math.abs(expires - Date.now() - MAX_TTL_DAYS * DAY_MS) < 60_000);
    const chosen = new Date(Date.now() + DAY_MS);
    const renewed = await rotate({ expireTime: chosen });
    assert.equal(renewed.apiKey?.expireTime?.getTime(), chosen.getTime());

    await call(gh.apiKeys, 'revokeApiKey', { apiKeyId: id }, u);
    await expectRpcError(rotate({}), status.NOT_FOUND, 'API_KEY_NOT_FOUND');
    const expired = await createKey(u.token);
    await gh.db.query(`UPDATE api_keys SET expires_at = now() WHERE id = $1`, [expired.apiKey?.id]);
    await expectRpcError(
      call(gh.apiKeys, 'rotateApiKey', { apiKeyId: expired.apiKey?.id ?? '' }, u),
      status.NOT_FOUND,
      'API_KEY_NOT_FOUND',
    );
  });

  it("a key loses a role within a second of its owner losing it, and dies with the owner's account", async () => {
    const u = await userWith(['reader', 'writer']);
    const key = await createKey(u.token, { roles: ['reader', 'writer'] });
    assert.deepEqual((await validate(key.secret)).roles, ['reader', 'writer']);
    await gh.db.query(`UPDATE users SET roles = '{reader}' WHERE id = $1`, [u.id]);
    await eventually(
      async () => (await validate(key.secret)).roles,
      (roles) => roles.length === 1 && roles[0] === 'reader',
      { what: 'the key acts with the roles the owner still holds' },
    );
    // Given back, the role is the key's again (it asked for it).
    await gh.db.query(`UPDATE users SET roles = '{reader,writer}' WHERE id = $1`, [u.id]);
    await eventually(
      async () => (await validate(key.secret)).roles.length,
      (n) => n === 2,
      { what: 'the role is back' },
    );
    await gh.db.query(`UPDATE users SET status = 'disabled' WHERE id = $1`, [u.id]);
    await eventually(
      () => isActive(key.secret),
      (active) => !active,
      {
        what: "a disabled owner's key is inactive",
      },
    );
  });

  it('bounds service-account keys by SERVICE_ACCOUNT_KEY_MAX_TTL_DAYS', async () => {
    const token = await adminToken();
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: `ttl-${randomUUID().slice(0, 8)}`, displayName: '', description: '', roles: [] },
      { token },
    );
    const serviceAccountId = sa.serviceAccount?.id ?? '';
    const key = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId, displayName: '', roles: [] },
      { token },
    );
    const expires = key.apiKey?.expireTime?.getTime() ?? 0;
    assert.ok(Math.abs(expires - Date.now() - SA_MAX_TTL_DAYS * DAY_MS) < 60_000);
    const refused = await expectRpcError(
      call(
        gh.serviceAccounts,
        'createServiceAccountKey',
        {
          serviceAccountId,
          displayName: '',
          roles: [],
          expireTime: new Date(Date.now() + (SA_MAX_TTL_DAYS + 1) * DAY_MS),
        },
        { token },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(refused.fieldViolations?.[0]?.field, 'expire_time');
  });
});

describe("UserAdminService: an admin lists and revokes a user's API keys", () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse();
  });
  after(async () => {
    await gh.stop();
  });

  const userWith = (roles: string[] = []) => registeredWith(gh, roles);

  it('refuses non-admins before any lookup, and audits each call with the user as subject', async () => {
    const member = await userWith(['reader']);
    const memberKey = await call(
      gh.apiKeys,
      'createApiKey',
      { displayName: '', roles: ['reader'] },
      member,
    );
    for (const token of [member.token, memberKey.secret]) {
      await expectRpcError(
        call(
          gh.admin,
          'listUserApiKeys',
          { userId: randomUUID(), pageSize: 0, pageToken: '' },
          {
            token,
          },
        ),
        status.PERMISSION_DENIED,
        'ADMIN_ROLE_REQUIRED',
      );
      await expectRpcError(
        call(gh.admin, 'revokeUserApiKey', { userId: randomUUID(), apiKeyId: 'nope' }, { token }),
        status.PERMISSION_DENIED,
        'ADMIN_ROLE_REQUIRED',
      );
    }
    for (const token of [undefined, 'not.a.jwt']) {
      await expectRpcError(
        call(
          gh.admin,
          'revokeUserApiKey',
          { userId: randomUUID(), apiKeyId: randomUUID() },
          token === undefined ? {} : { token },
        ),
        status.UNAUTHENTICATED,
        'INVALID_ACCESS_TOKEN',
      );
    }
  });

  it("lists a user's keys page by page and revokes one, which stops working", async () => {
    const admin = await userWith(['admin']);
    const u = await userWith(['reader']);
    const other = await userWith();
    const keys = [];
    for (const name of ['a', 'b', 'c']) {
      keys.push(
        await call(gh.apiKeys, 'createApiKey', { displayName: name, roles: ['reader'] }, u),
      );
    }
    const theirs = await call(gh.apiKeys, 'createApiKey', { displayName: 'x', roles: [] }, other);
    const requestId = randomUUID();
    const first = await call(
      gh.admin,
      'listUserApiKeys',
      { userId: u.id, pageSize: 2, pageToken: '' },
      { token: admin.token, metadata: { 'x-request-id': requestId } },
    );
    const rest = await call(
      gh.admin,
      'listUserApiKeys',
      { userId: u.id, pageSize: 2, pageToken: first.nextPageToken },
      admin,
    );
    assert.equal(rest.nextPageToken, '');
    assert.deepEqual(
      [...first.apiKeys, ...rest.apiKeys].map((k) => k.displayName),
      ['a', 'b', 'c'],
    );
    const listed = JSON.stringify([first, rest]);
    assert.ok(
      keys.every((k) => !listed.includes(k.secret)),
      'no secret in a listing',
    );
    await expectRpcError(
      call(
        gh.admin,
        'listUserApiKeys',
        { userId: other.id, pageSize: 2, pageToken: first.nextPageToken },
        admin,
      ),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    await expectRpcError(
      call(
        gh.admin,
        'listUserApiKeys',
        { userId: randomUUID(), pageSize: 0, pageToken: '' },
        admin,
      ),
      status.NOT_FOUND,
      'USER_NOT_FOUND',
    );
    const [listRow] = await gh.db.query<AuditRow>(
      `SELECT action, outcome, actor_user_id, api_key_id, subject_user_id, details
       FROM audit_events WHERE request_id = $1`,
      [requestId],
    );
    assert.equal(listRow?.action, 'user_api_keys_list');
    assert.equal(listRow?.subject_user_id, u.id);
    assert.equal(listRow?.actor_user_id, admin.id);

    const target = keys[1];
    assert.ok(target?.apiKey);
    assert.equal(
      (await call(gh.auth, 'validateToken', { accessToken: target.secret })).active,
      true,
    );
    const revokeId = randomUUID();
    const revoked = await call(
      gh.admin,
      'revokeUserApiKey',
      { userId: u.id, apiKeyId: target.apiKey.id },
      { token: admin.token, metadata: { 'x-request-id': revokeId } },
    );
    assert.ok(revoked.apiKey?.revokeTime);
    await eventually(
      async () => (await call(gh.auth, 'validateToken', { accessToken: target.secret })).active,
      (active) => !active,
      { what: 'the key an admin revoked is inactive' },
    );
    const again = await call(
      gh.admin,
      'revokeUserApiKey',
      { userId: u.id, apiKeyId: target.apiKey.id },
      admin,
    );
    assert.equal(again.apiKey?.revokeTime?.getTime(), revoked.apiKey?.revokeTime?.getTime());
    const [revokeRow] = await gh.db.query<AuditRow>(
      `SELECT action, outcome, actor_user_id, api_key_id, subject_user_id, details
       FROM audit_events WHERE request_id = $1`,
      [revokeId],
    );
    assert.equal(revokeRow?.action, 'user_api_key_revoke');
    assert.equal(revokeRow?.outcome, 'success');
    assert.equal(revokeRow?.subject_user_id, u.id);
    assert.equal(revokeRow?.details.key_id, target.apiKey.id);

    // A key of another user, or of nobody, is API_KEY_NOT_FOUND; an unknown user USER_NOT_FOUND.
    await expectRpcError(
      call(
        gh.admin,
        'revokeUserApiKey',
        { userId: u.id, apiKeyId: theirs.apiKey?.id ?? '' },
        admin,
      ),
      status.NOT_FOUND,
      'API_KEY_NOT_FOUND',
    );
    assert.equal(
      (await call(gh.auth, 'validateToken', { accessToken: theirs.secret })).active,
      true,
    );
    await expectRpcError(
      call(gh.admin, 'revokeUserApiKey', { userId: randomUUID(), apiKeyId: randomUUID() }, admin),
      status.NOT_FOUND,
      'USER_NOT_FOUND',
    );
    const bad = await expectRpcError(
      call(gh.admin, 'revokeUserApiKey', { userId: 'x', apiKeyId: '' }, admin),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual((bad.fieldViolations ?? []).map((v) => v.field).sort(), [
      'api_key_id',
      'user_id',
    ]);
  });
});

describe('API key secrets leave the server only in Create/Rotate responses', () => {
  it('never appear in listings, audit rows or the server log', async () => {
    const db = await createTestDatabase();
    const gh = await spawnGatehouse({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `ghtest:uk-log:${randomUUID().slice(0, 8)}:`,
      LOG_LEVEL: 'trace',
    });
    const target = `127.0.0.1:${gh.grpcPort}`;
    const auth = new AuthServiceClient(target, credentials.createInsecure());
    const apiKeys = new ApiKeyServiceClient(target, credentials.createInsecure());
    try {
      const reg = await call(auth, 'register', {
        email: `leak.${randomUUID().slice(0, 8)}@example.test`,
        password: 'violet-harbour-anchors-9',
      });
      const token = reg.tokens?.accessToken ?? '';
      const created = await call(
        apiKeys,
        'createApiKey',
        { displayName: 'k', roles: [] },
        {
          token,
        },
      );
      const id = created.apiKey?.id ?? '';
      const rotated = await call(
        apiKeys,
        'rotateApiKey',
        {
          apiKeyId: id,
          overlap: { seconds: '60', nanos: 0 },
        },
        { token },
      );
      const secrets = [created.secret, rotated.secret];
      const reads = [
        await call(apiKeys, 'listApiKeys', { pageSize: 0, pageToken: '' }, { token }),
        await call(apiKeys, 'getApiKey', { apiKeyId: id }, { token: rotated.secret }),
        await call(auth, 'validateToken', { accessToken: created.secret }),
      ];
      await call(apiKeys, 'revokeApiKey', { apiKeyId: id }, { token: created.secret });
      // A dead key presented again (audited as api_key_denied) must not leak either.
      await eventually(
        async () => (await call(auth, 'validateToken', { accessToken: rotated.secret })).active,
        (active) => !active,
        { what: 'the revoked key is inactive' },
      );
      const audit = await db.query(`SELECT * FROM audit_events`);
      const everything = JSON.stringify({ reads, audit, logs: gh.logs });
      for (const secret of secrets) {
        assert.ok(!everything.includes(secret), 'no secret outside its one response');
        assert.ok(!everything.includes(secret.slice(8)), 'not even the part after the prefix');
      }
      assert.ok(gh.logs.length > 0, 'the server logged the calls');
    } finally {
      auth.close();
      apiKeys.close();
      gh.process.kill('SIGTERM');
      await gh.exited;
      await db.drop();
    }
  });
});
