import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { eventually } from './helpers/eventually.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { redisUrl } from './helpers/testDatabase.ts';
import { PASSWORD, registerUser } from './helpers/users.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('refresh rotation', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse({ REFRESH_REUSE_GRACE_SEC: '2' });
  });
  after(async () => {
    await gh.stop();
  });
  const refresh = (refreshToken: string) => call(gh.auth, 'refresh', { refreshToken });
  const active = async (accessToken: string) =>
    (await call(gh.auth, 'validateToken', { accessToken })).active;

  it('rotates on every refresh; the new pair works and the session stays the same', async () => {
    const { tokens } = await registerUser(gh);
    const next = (await refresh(tokens.refreshToken)).tokens;
    assert.ok(next);
    assert.notEqual(next.refreshToken, tokens.refreshToken);
    assert.equal(next.sessionId, tokens.sessionId);
    assert.equal(await active(next.accessToken), true);
    const third = (await refresh(next.refreshToken)).tokens;
    assert.ok(third);
    const rows = await gh.db.query<{ token_hash: Buffer }>('SELECT token_hash FROM refresh_tokens');
    for (const r of rows) {
      assert.ok(!r.token_hash.toString('latin1').includes('ghr_'), 'only hashes are stored');
    }
  });

  it('answers a retry within the grace window with a valid pair, without two live successors', async () => {
    const { tokens } = await registerUser(gh);
    const first = (await refresh(tokens.refreshToken)).tokens;
    const retry = (await refresh(tokens.refreshToken)).tokens;
    assert.ok(first && retry);
    assert.equal(
      await active(retry.accessToken),
      true,
      'the client that lost the response is not logged out',
    );
    await expectRpcError(
      refresh(first.refreshToken),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
    const again = (await refresh(retry.refreshToken)).tokens;
    assert.ok(again, 'the retried successor is the live one');
  });

  it('revokes the whole family when a rotated token is reused after the grace window', async () => {
    const { tokens, user } = await registerUser(gh);
    const next = (await refresh(tokens.refreshToken)).tokens;
    assert.ok(next);
    await sleep(2300);
    await expectRpcError(
      refresh(tokens.refreshToken),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
    assert.equal(await active(next.accessToken), false, 'the session is revoked at once');
    await expectRpcError(
      refresh(next.refreshToken),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
    const audit = await gh.db.query(
      'SELECT 1 FROM audit_events WHERE subject_user_id = $1 AND action = $2',
      [user.id, 'refresh_token_reuse'],
    );
    assert.equal(audit.length, 1);
  });

  it('leaves exactly one live successor after 20 concurrent refreshes of one token', async () => {
    const { tokens } = await registerUser(gh);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => refresh(tokens.refreshToken)),
    );
    const issued = results.flatMap((r) =>
      r.status === 'fulfilled' && r.value.tokens ? [r.value.tokens] : [],
    );
    assert.ok(issued.length >= 1);
    const live = await gh.db.query(
      'SELECT id FROM refresh_tokens WHERE session_id = $1 AND used_at IS NULL AND revoked_at IS NULL',
      [tokens.sessionId],
    );
    assert.equal(live.length, 1);
    let usable = 0;
    for (const t of issued) {
      try {
        await refresh(t.refreshToken);
        usable += 1;
      } catch (error) {
        assert.equal((error as { code: number }).code, status.UNAUTHENTICATED);
      }
    }
    assert.equal(usable, 1);
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
    const list = await call(gh.auth, 'listSessions', {}, { token: second.accessToken });
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
      call(gh.auth, 'listSessions', {}),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
    await expectRpcError(
      call(gh.auth, 'listSessions', {}, { token: 'garbage' }),
      status.UNAUTHENTICATED,
      'INVALID_ACCESS_TOKEN',
    );
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
