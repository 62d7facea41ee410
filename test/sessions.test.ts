import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import {
  AuthServiceClient,
  type ListSessionsRequest,
} from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { eventually } from './helpers/eventually.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { redisUrl } from './helpers/testDatabase.ts';
import { PASSWORD, registerUser } from './helpers/users.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('refresh rotation', () => {
  let gh: Gatehouse;
  before(async () => {
    // A window no slow machine can overrun between two calls; expiry is tested on its own server.
    gh = await startGatehouse({ REFRESH_REUSE_GRACE_SEC: '60' });
  });
  after(async () => {
    await gh.stop();
  });
  const refresh = (refreshToken: string) => call(gh.auth, 'refresh', { refreshToken });
  const active = async (accessToken: string) =>
    (await call(gh.auth, 'validateToken', { accessToken })).active;
  const familySize = async (sessionId: string) =>
    (
      await gh.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM refresh_tokens WHERE session_id = $1',
        [sessionId],
      )
    )[0]?.n;

  it('rotates on every refresh; the new pair works and the session stays the same', async () => {
    const { tokens } = await registerUser(gh);
    const next = (await refresh(tokens.refreshToken)).tokens;
    assert.ok(next);
    assert.notEqual(next.refreshToken, tokens.refreshToken);
    assert.equal(next.sessionId, tokens.sessionId);
    assert.equal(await active(next.accessToken), true);
    const third = (await refresh(next.refreshToken)).tokens;
    assert.ok(third);
    assert.notEqual(third.refreshToken, next.refreshToken);
    const rows = await gh.db.query<{ token_hash: Buffer }>('SELECT token_hash FROM refresh_tokens');
    for (const r of rows) {
      assert.ok(!r.token_hash.toString('latin1').includes('ghr_'), 'only hashes are stored');
    }
  });

  it('answers a retry after a lost response with the same successor, which stays usable', async () => {
    const { tokens } = await registerUser(gh);
    const first = (await refresh(tokens.refreshToken)).tokens;
    const retry = (await refresh(tokens.refreshToken)).tokens;
    assert.ok(first && retry);
    assert.equal(retry.refreshToken, first.refreshToken, 'one successor, whichever answer arrives');
    assert.equal(await active(retry.accessToken), true, 'the retry gets a valid access token');
    assert.equal(await familySize(tokens.sessionId), 2, 'the chain advanced once');
    const again = (await refresh(first.refreshToken)).tokens;
    assert.ok(again, 'the successor works');
  });

  it('answers 20 concurrent refreshes of one token with one successor; the chain advances once', async () => {
    const { tokens, user } = await registerUser(gh);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => refresh(tokens.refreshToken)),
    );
    const issued = results.map((r) => {
      assert.ok(r.tokens);
      return r.tokens;
    });
    assert.deepEqual(
      new Set(issued.map((t) => t.refreshToken)).size,
      1,
      'every response carries the same refresh token',
    );
    for (const t of issued) {
      assert.equal(t.sessionId, tokens.sessionId);
      assert.equal(await active(t.accessToken), true, 'every access token is valid');
    }
    assert.equal(await familySize(tokens.sessionId), 2, 'exactly one successor row');
    const successor = issued[0]?.refreshToken ?? '';
    const next = (await refresh(successor)).tokens;
    assert.ok(next, 'the shared successor refreshes');
    assert.notEqual(next.refreshToken, successor);
    assert.equal(await active(next.accessToken), true);

    // The successor has been used: presenting the original again is reuse, grace or not.
    await expectRpcError(
      refresh(tokens.refreshToken),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
    assert.equal(await active(next.accessToken), false, 'the family is revoked');
    const audit = await gh.db.query<{ action: string }>(
      'SELECT action FROM audit_events WHERE subject_user_id = $1 AND action LIKE $2 ORDER BY id',
      [user.id, 'refresh%'],
    );
    assert.equal(audit.filter((a) => a.action === 'refresh').length, 21, 'every answer audited');
    assert.equal(audit.filter((a) => a.action === 'refresh_reuse_detected').length, 1);
  });

  it('gives sessions random first tokens and unrelated successors', async () => {
    const a = await registerUser(gh);
    const b = await registerUser(gh);
    assert.notEqual(a.tokens.refreshToken, b.tokens.refreshToken);
    const [na, nb] = await Promise.all([
      refresh(a.tokens.refreshToken),
      refresh(b.tokens.refreshToken),
    ]);
    assert.notEqual(na.tokens?.refreshToken, nb.tokens?.refreshToken);
    assert.match(na.tokens?.refreshToken ?? '', /^ghr_[A-Za-z0-9_-]{43}$/, '256 bits, same shape');
  });

  it('after a key rotation refuses a repeat without revoking; the successor handed out works', async () => {
    const { tokens } = await registerUser(gh);
    const successor = (await refresh(tokens.refreshToken)).tokens?.refreshToken;
    assert.ok(successor);
    // The documented rotation: a new key row, read by an instance started afterwards.
    await gh.db.query(`DELETE FROM app_secrets WHERE name = 'refresh_successor'`);
    const rotated = await startGatehouse({ REFRESH_REUSE_GRACE_SEC: '60' }, gh.db);
    try {
      const refreshOnRotated = (refreshToken: string) =>
        call(rotated.auth, 'refresh', { refreshToken });
      await expectRpcError(
        refreshOnRotated(tokens.refreshToken),
        status.UNAUTHENTICATED,
        'INVALID_REFRESH_TOKEN',
      );
      const next = (await refreshOnRotated(successor)).tokens;
      assert.ok(next, 'the successor already handed out still refreshes');
      assert.equal(await active(next.accessToken), true, 'nothing was revoked');
    } finally {
      await rotated.stop({ keepDatabase: true });
    }
  });

  it('enforces the idle timeout and the absolute lifetime on refresh', async () => {
    const idle = await registerUser(gh);
    await gh.db.query(
      `UPDATE sessions SET idle_expires_at = now() - interval '1 second' WHERE id = $1`,
      [idle.tokens.sessionId],
    );
    await expectRpcError(
      refresh(idle.tokens.refreshToken),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
    const absolute = await registerUser(gh);
    await gh.db.query(
      `UPDATE sessions SET expires_at = now() - interval '1 second', idle_expires_at = now() - interval '1 second' WHERE id = $1`,
      [absolute.tokens.sessionId],
    );
    await expectRpcError(
      refresh(absolute.tokens.refreshToken),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
  });
});

describe('refresh reuse after the grace window', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse({ REFRESH_REUSE_GRACE_SEC: '1' });
  });
  after(async () => {
    await gh.stop();
  });
  const refresh = (refreshToken: string) => call(gh.auth, 'refresh', { refreshToken });

  it('keeps answering with the same successor until the window ends, then revokes the family', async () => {
    const { tokens, user } = await registerUser(gh);
    const successor = (await refresh(tokens.refreshToken)).tokens?.refreshToken;
    assert.ok(successor);
    // Poll until the server calls it reuse (the window has passed); bounded, not a fixed sleep.
    const deadline = Date.now() + 60_000;
    let reuse: unknown;
    while (reuse === undefined) {
      assert.ok(Date.now() < deadline, 'the grace window ended within a minute');
      const again = await refresh(tokens.refreshToken).catch((error: unknown) => {
        reuse = error;
        return null;
      });
      if (again === null) break;
      assert.equal(again.tokens?.refreshToken, successor, 'same successor inside the window');
      await sleep(50);
    }
    await expectRpcError(Promise.reject(reuse), status.UNAUTHENTICATED, 'INVALID_REFRESH_TOKEN');
    await expectRpcError(refresh(successor), status.UNAUTHENTICATED, 'INVALID_REFRESH_TOKEN');
    const [session] = await gh.db.query<{ revoked_reason: string | null }>(
      'SELECT revoked_reason FROM sessions WHERE id = $1',
      [tokens.sessionId],
    );
    assert.equal(session?.revoked_reason, 'refresh_token_reuse');
    const audit = await gh.db.query(
      'SELECT 1 FROM audit_events WHERE subject_user_id = $1 AND action = $2',
      [user.id, 'refresh_reuse_detected'],
    );
    assert.equal(audit.length, 1);
  });
});

describe('sessions and revocation', () => {
  let gh: Gatehouse;
  let redis: Redis;
  before(async () => {
    gh = await startGatehouse();
    redis = new Redis(redisUrl);
  });
  after(async () => {
    redis.disconnect();
    await gh.stop();
  });
  const active = async (accessToken: string) =>
    (await call(gh.auth, 'validateToken', { accessToken })).active;
  const login = async (email: string) => {
    const res = await call(gh.auth, 'login', { identifier: email, password: PASSWORD });
    assert.ok(res.tokens);
    return res.tokens;
  };

  it('lists sessions with the current flag and revokes only your own', async () => {
    const a = await registerUser(gh);
    const second = await login(a.email);
    const list = await call(
      gh.auth,
      'listSessions',
      { pageSize: 0, pageToken: '' },
      { token: second.accessToken },
    );
    assert.equal(list.sessions.length, 2);
    const current = list.sessions.filter((s) => s.current);
    assert.equal(current.length, 1);
    assert.equal(current[0]?.id, second.sessionId);
    assert.equal(current[0]?.ipAddress, '127.0.0.1');
    assert.match(
      current[0]?.userAgent ?? '',
      /grpc-node-js\/\d/,
      'the client user agent is recorded',
    );

    const b = await registerUser(gh);
    await expectRpcError(
      call(
        gh.auth,
        'revokeSession',
        { sessionId: a.tokens.sessionId },
        { token: b.tokens.accessToken },
      ),
      status.NOT_FOUND,
      'SESSION_NOT_FOUND',
    );
    assert.equal(await active(a.tokens.accessToken), true, 'someone else cannot revoke it');
    await call(
      gh.auth,
      'revokeSession',
      { sessionId: a.tokens.sessionId },
      { token: second.accessToken },
    );
    assert.equal(await active(a.tokens.accessToken), false);
    assert.equal(await active(second.accessToken), true);
  });

  it('revokes other sessions but keeps the calling one', async () => {
    const a = await registerUser(gh);
    const s2 = await login(a.email);
    const s3 = await login(a.email);
    const res = await call(gh.auth, 'revokeOtherSessions', {}, { token: s3.accessToken });
    assert.equal(res.revokedCount, 2);
    assert.equal(await active(a.tokens.accessToken), false);
    assert.equal(await active(s2.accessToken), false);
    assert.equal(await active(s3.accessToken), true);
  });

  it('makes logout visible to ValidateToken and bearer RPCs at once on the same instance', async () => {
    const a = await registerUser(gh);
    assert.equal(await active(a.tokens.accessToken), true, 'cached as live first');
    await call(gh.auth, 'logout', {}, { token: a.tokens.accessToken });
    assert.equal(await active(a.tokens.accessToken), false);
    await expectRpcError(
      call(gh.auth, 'getCurrentUser', {}, { token: a.tokens.accessToken }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    await call(gh.auth, 'logout', {}, { token: a.tokens.accessToken });
    await expectRpcError(
      call(gh.auth, 'refresh', { refreshToken: a.tokens.refreshToken }),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
  });

  it('logs out with a refresh token alone', async () => {
    const a = await registerUser(gh);
    await call(gh.auth, 'logout', { refreshToken: a.tokens.refreshToken });
    assert.equal(await active(a.tokens.accessToken), false);
    await call(gh.auth, 'logout', { refreshToken: 'ghr_unknown' });
  });

  it('neither revives a revoked session nor loses a live one when Redis is flushed', async () => {
    const revoked = await registerUser(gh);
    const live = await registerUser(gh);
    assert.equal(await active(live.tokens.accessToken), true);
    await call(gh.auth, 'logout', {}, { token: revoked.tokens.accessToken });
    assert.equal(await active(revoked.tokens.accessToken), false);
    const keys = await redis.keys(`${gh.redisKeyPrefix}*`);
    assert.ok(keys.length >= 2, 'the session cache lives in Redis');
    await redis.flushall();
    assert.equal(await active(revoked.tokens.accessToken), false, 'revoked stays revoked');
    assert.equal(await active(live.tokens.accessToken), true, 'live stays live');
  });

  it('changes the password: wrong current password is refused; all old sessions end', async () => {
    const a = await registerUser(gh);
    const other = await login(a.email);
    await expectRpcError(
      call(
        gh.auth,
        'changePassword',
        { currentPassword: 'not-it-at-all', newPassword: 'a-brand-new-secret-42' },
        { token: a.tokens.accessToken },
      ),
      status.INVALID_ARGUMENT,
      'INVALID_CURRENT_PASSWORD',
    );
    await expectRpcError(
      call(
        gh.auth,
        'changePassword',
        { currentPassword: PASSWORD, newPassword: 'password' },
        { token: a.tokens.accessToken },
      ),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    const res = await call(
      gh.auth,
      'changePassword',
      { currentPassword: PASSWORD, newPassword: 'a-brand-new-secret-42' },
      { token: a.tokens.accessToken },
    );
    assert.ok(res.tokens);
    assert.equal(await active(a.tokens.accessToken), false);
    assert.equal(await active(other.accessToken), false);
    assert.equal(await active(res.tokens.accessToken), true);
    await expectRpcError(
      call(gh.auth, 'login', { identifier: a.email, password: PASSWORD }),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );
    await call(gh.auth, 'login', { identifier: a.email, password: 'a-brand-new-secret-42' });
  });

  it('refuses bearer RPCs without a valid token', async () => {
    await expectRpcError(
      call(gh.auth, 'listSessions', { pageSize: 0, pageToken: '' }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    await expectRpcError(
      call(gh.auth, 'listSessions', { pageSize: 0, pageToken: '' }, { token: 'garbage' }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
  });
});

describe('session lists', () => {
  let gh: Gatehouse;
  before(async () => {
    // The test client is the trusted proxy, so each call can say which end user it forwards.
    gh = await startGatehouse({ TRUSTED_PROXIES: '127.0.0.1' });
  });
  after(async () => {
    await gh.stop();
  });
  const list = (token: string, page: Partial<ListSessionsRequest> = {}) =>
    call(gh.auth, 'listSessions', { pageSize: 0, pageToken: '', ...page }, { token });
  const login = async (email: string, forwardedFor = '192.0.2.1') => {
    const res = await call(
      gh.auth,
      'login',
      { identifier: email, password: PASSWORD },
      { metadata: { 'x-forwarded-for': forwardedFor } },
    );
    assert.ok(res.tokens);
    return res.tokens;
  };

  it('records the address and user agent of the last refresh', async () => {
    const a = await registerUser(gh);
    const laptop = new AuthServiceClient(gh.target, credentials.createInsecure(), {
      'grpc.primary_user_agent': 'laptop-app/1.0',
    });
    const phone = new AuthServiceClient(gh.target, credentials.createInsecure(), {
      'grpc.primary_user_agent': 'phone-app/2.0',
    });
    try {
      const res = await call(
        laptop,
        'login',
        { identifier: a.email, password: PASSWORD },
        { metadata: { 'x-forwarded-for': '203.0.113.5' } },
      );
      assert.ok(res.tokens);
      const before = (await list(res.tokens.accessToken)).sessions.find((s) => s.current);
      assert.equal(before?.ipAddress, '203.0.113.5');
      assert.match(before?.userAgent ?? '', /^laptop-app\/1\.0 /);

      const next = await call(
        phone,
        'refresh',
        { refreshToken: res.tokens.refreshToken },
        { metadata: { 'x-forwarded-for': '198.51.100.7' } },
      );
      assert.ok(next.tokens);
      const after = (await list(next.tokens.accessToken)).sessions.find((s) => s.current);
      assert.equal(after?.ipAddress, '198.51.100.7', 'the address of the refresh');
      assert.match(after?.userAgent ?? '', /^phone-app\/2\.0 /, 'the user agent of the refresh');
      const [row] = await gh.db.query<{ moved: boolean }>(
        'SELECT last_used_at > created_at AS moved FROM sessions WHERE id = $1',
        [res.tokens.sessionId],
      );
      assert.equal(row?.moved, true, 'last_used_at is the time of the refresh');
      assert.equal(after?.createdAt?.getTime(), before?.createdAt?.getTime());
    } finally {
      laptop.close();
      phone.close();
    }
  });

  it('lists the most recently used session first', async () => {
    const a = await registerUser(gh);
    const second = await login(a.email);
    const third = await login(a.email);
    await call(gh.auth, 'refresh', { refreshToken: a.tokens.refreshToken });
    const { sessions, nextPageToken } = await list(third.accessToken);
    assert.deepEqual(
      sessions.map((s) => s.id),
      [a.tokens.sessionId, third.sessionId, second.sessionId],
      'the refreshed first session leads, then by last use',
    );
    assert.equal(nextPageToken, '');
    for (const [i, s] of sessions.slice(1).entries()) {
      const prev = sessions[i]?.lastUsedAt?.getTime() ?? 0;
      assert.ok((s.lastUsedAt?.getTime() ?? 0) <= prev, 'ordered by last_used_at, descending');
    }
  });

  it('pages through more than 1000 sessions without duplicates or gaps', async () => {
    const a = await registerUser(gh);
    const other = await registerUser(gh);
    // 1500 more live sessions; pairs share a last_used_at so the id tie-break matters. Revoked
    // and expired sessions, and another user's, must not appear.
    await gh.db.query(
      `INSERT INTO sessions (id, user_id, created_at, last_used_at, idle_expires_at, expires_at,
                             revoked_at)
       SELECT gen_random_uuid(), $1, now() - interval '1 day',
              now() - (i / 2) * interval '1 second', now() + interval '1 day',
              now() + interval '2 days', CASE WHEN i > 1500 THEN now() END
       FROM generate_series(1, 1600) AS i`,
      [a.user.id],
    );
    await gh.db.query(
      `INSERT INTO sessions (id, user_id, last_used_at, idle_expires_at, expires_at)
       SELECT gen_random_uuid(), $1, now(), now() - interval '1 second', now() + interval '1 day'
       FROM generate_series(1, 10)`,
      [a.user.id],
    );
    const expected = (
      await gh.db.query<{ id: string }>(
        `SELECT id FROM sessions
         WHERE user_id = $1 AND revoked_at IS NULL AND idle_expires_at > now()
         ORDER BY last_used_at DESC, id DESC`,
        [a.user.id],
      )
    ).map((r) => r.id);
    assert.equal(expected.length, 1501);

    const first = await list(a.tokens.accessToken);
    assert.equal(first.sessions.length, 50, 'page_size 0 means 50');
    const capped = await list(a.tokens.accessToken, { pageSize: 100000 });
    assert.equal(capped.sessions.length, 500, 'page_size is capped at 500');

    const seen: string[] = [];
    let pageToken = '';
    let pages = 0;
    do {
      const page = await list(a.tokens.accessToken, { pageSize: 137, pageToken });
      assert.ok(page.sessions.length <= 137);
      seen.push(...page.sessions.map((s) => s.id));
      pageToken = page.nextPageToken;
      pages += 1;
      assert.ok(pages < 100, 'terminates');
    } while (pageToken !== '');
    assert.equal(pages, Math.ceil(1501 / 137));
    assert.deepEqual(seen, expected, 'every live session once, in order');
    assert.equal((await list(other.tokens.accessToken)).sessions.length, 1);
  });

  it('refuses a negative page size and forged or foreign page tokens', async () => {
    const a = await registerUser(gh);
    const b = await registerUser(gh);
    await login(a.email);
    const bad = await expectRpcError(
      list(a.tokens.accessToken, { pageSize: -1 }),
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.deepEqual(
      bad.fieldViolations?.map((v) => v.field),
      ['page_size'],
    );
    const page = await list(a.tokens.accessToken, { pageSize: 1 });
    assert.notEqual(page.nextPageToken, '');
    const forged = [
      'garbage',
      `${page.nextPageToken.slice(0, -2)}AA`,
      page.nextPageToken.replace(
        /^v1\.[^.]+/,
        `v1.${Buffer.from('["2024-01-01T00:00:00.000000","x"]').toString('base64url')}`,
      ),
    ];
    for (const pageToken of forged) {
      const s = await expectRpcError(
        list(a.tokens.accessToken, { pageSize: 1, pageToken }),
        status.INVALID_ARGUMENT,
        'INVALID_PAGE_TOKEN',
      );
      assert.deepEqual(
        s.fieldViolations?.map((v) => v.field),
        ['page_token'],
      );
    }
    await expectRpcError(
      list(b.tokens.accessToken, { pageSize: 1, pageToken: page.nextPageToken }),
      status.INVALID_ARGUMENT,
      'INVALID_PAGE_TOKEN',
    );
    const rest = await list(a.tokens.accessToken, { pageSize: 1, pageToken: page.nextPageToken });
    assert.equal(rest.sessions.length, 1);
    assert.notEqual(rest.sessions[0]?.id, page.sessions[0]?.id);
  });
});

describe('several instances', () => {
  it('sees a revocation made on one instance on another, through change notifications', async () => {
    const prefix = `ghtest:multi:${Date.now()}:`;
    // In-process layers that outlive the test: only a notification can end b's cached "live".
    const env = { REDIS_KEY_PREFIX: prefix, SESSION_CACHE_LOCAL_TTL_MS: '60000' };
    const a = await startGatehouse(env);
    const b = await startGatehouse(env, a.db);
    try {
      const { tokens } = await registerUser(a);
      const activeOnB = async () =>
        (await call(b.auth, 'validateToken', { accessToken: tokens.accessToken })).active;
      assert.equal(await activeOnB(), true, 'b has it cached as live');
      assert.equal(await activeOnB(), true);
      await call(a.auth, 'logout', {}, { token: tokens.accessToken });
      await eventually(activeOnB, (active) => !active, { what: 'the revocation seen on b' });
      assert.equal(await activeOnB(), false);
    } finally {
      await b.stop({ keepDatabase: true });
      await a.stop();
    }
  });

  it('sees a change made outside Gatehouse (plain SQL) on every instance', async () => {
    const prefix = `ghtest:multi:${Date.now()}:`;
    const env = { REDIS_KEY_PREFIX: prefix, SESSION_CACHE_LOCAL_TTL_MS: '60000' };
    const a = await startGatehouse(env);
    const b = await startGatehouse(env, a.db);
    try {
      const { user, tokens } = await registerUser(a);
      const rolesOn = async (gh: Gatehouse) =>
        (await call(gh.auth, 'validateToken', { accessToken: tokens.accessToken })).roles;
      assert.deepEqual(await rolesOn(a), []);
      assert.deepEqual(await rolesOn(b), []);
      await a.db.query(`UPDATE users SET roles = '{support}' WHERE id = $1`, [user.id]);
      for (const gh of [a, b]) {
        await eventually(
          () => rolesOn(gh),
          (roles) => roles.join() === 'support',
          { what: 'the new role in ValidateToken' },
        );
      }
      await a.db.query(`UPDATE sessions SET revoked_at = now() WHERE id = $1`, [tokens.sessionId]);
      for (const gh of [a, b]) {
        await eventually(
          async () =>
            (await call(gh.auth, 'validateToken', { accessToken: tokens.accessToken })).active,
          (active) => !active,
          { what: 'the SQL revocation in ValidateToken' },
        );
      }
    } finally {
      await b.stop({ keepDatabase: true });
      await a.stop();
    }
  });
});
