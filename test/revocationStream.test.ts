import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import pg from 'pg';
import { Registry } from 'prom-client';
import { createCleanupMetrics } from '../src/cleanup/cleanupMetrics.ts';
import { createCleanupRunner } from '../src/cleanup/createCleanupRunner.ts';
import {
  AuthServiceClient,
  type RevocationEvent,
  RevocationReason,
  RevocationScope,
} from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { createLogger } from '../src/log.ts';
import { createDatabase } from '../src/storage/createDatabase.ts';
import { eventually } from './helpers/eventually.ts';
import { type RevocationWatch, watchRevocations } from './helpers/revocationWatch.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { SmtpReceiver, tokenFromLink } from './helpers/smtpReceiver.ts';
import { spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { redisUrl } from './helpers/testDatabase.ts';
import { PASSWORD, registerUser } from './helpers/users.ts';

const RESET_URL = 'https://app.example.test/reset';
const NEW_PASSWORD = 'quiet-lantern-orchard-47';

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** The events of `watch` that match `pick`. */
const matching = (watch: RevocationWatch, pick: (e: RevocationEvent) => boolean) =>
  watch.events().filter(pick);

describe('AuthService.WatchRevocations', () => {
  let gh: Gatehouse;
  let smtp: SmtpReceiver;
  /** A second instance on the same database. */
  let gh2: Gatehouse;
  let adminToken: string;
  /** A service account key whose global role grants revocations:watch. */
  let watcherKey: string;
  /** A service account key without it. */
  let plainKey: string;
  const open: RevocationWatch[] = [];
  const watch = (g: Gatehouse, key: string | undefined, cursor = '') => {
    const w = watchRevocations(g.auth, key, cursor);
    open.push(w);
    return w;
  };
  const sql = (text: string, params: unknown[] = []) => gh.db.query(text, params);

  const serviceAccountKey = async (roles: string[]) => {
    const sa = await call(
      gh.serviceAccounts,
      'createServiceAccount',
      { name: unique('rs'), displayName: '', description: '', roles },
      { token: adminToken },
    );
    const id = sa.serviceAccount?.id ?? '';
    const key = await call(
      gh.serviceAccounts,
      'createServiceAccountKey',
      { serviceAccountId: id, displayName: '', roles: [] },
      { token: adminToken },
    );
    return { serviceAccountId: id, apiKeyId: key.apiKey?.id ?? '', secret: key.secret };
  };

  before(async () => {
    smtp = await SmtpReceiver.start();
    const env = {
      REVOCATION_HEARTBEAT_SEC: '1',
      REVOCATION_MAX_LAG: '200',
      REFRESH_REUSE_GRACE_SEC: '0',
      SMTP_URL: smtp.url,
      SMTP_FROM: 'accounts@example.test',
      PASSWORD_RESET_URL: RESET_URL,
      MAIL_POLL_INTERVAL_MS: '100',
    };
    gh = await startGatehouse(env);
    gh2 = await startGatehouse(env, gh.db);
    const admin = await registerUser(gh);
    await sql(`UPDATE users SET roles = '{admin}' WHERE id = $1`, [admin.user.id]);
    adminToken = admin.tokens.accessToken;
    const [role] = await sql(
      `INSERT INTO roles (name, scope) VALUES ('revocation-watcher', 'global') RETURNING id`,
    );
    await sql(
      `INSERT INTO role_permissions (role_id, permission) VALUES ($1, 'revocations:watch')`,
      [(role as { id: string }).id],
    );
    watcherKey = (await serviceAccountKey(['revocation-watcher'])).secret;
    plainKey = (await serviceAccountKey([])).secret;
  });
  after(async () => {
    for (const w of open) w.cancel();
    await gh2?.stop();
    await gh?.stop();
    await smtp?.stop();
  });

  describe('who may watch', () => {
    it('refuses an anonymous caller', async () => {
      await expectRpcError(
        watch(gh, undefined).ended,
        status.UNAUTHENTICATED,
        'INVALID_ACCESS_TOKEN',
      );
    });
    it('refuses a user session (not a service account)', async () => {
      const u = await registerUser(gh);
      await expectRpcError(
        watch(gh, u.tokens.accessToken).ended,
        status.UNAUTHENTICATED,
        'INVALID_ACCESS_TOKEN',
      );
    });
    it('refuses a service account without revocations:watch', async () => {
      const s = await expectRpcError(
        watch(gh, plainKey).ended,
        status.PERMISSION_DENIED,
        'PERMISSION_REQUIRED',
      );
      assert.match(s.message, /revocations:watch/);
    });
    it('admits a service account whose global role grants it: a heartbeat first', async () => {
      const w = watch(gh, watcherKey);
      await w.until((x) => x.heartbeats().length >= 1, 'first heartbeat');
      const hb = w.heartbeats()[0];
      assert.match(hb?.cursor ?? '', /^\d+$/);
      assert.equal(hb?.accessTokenTtl?.seconds, '900');
      assert.equal(hb?.retention?.seconds, '86400');
      assert.ok(hb?.serverTime instanceof Date);
      w.cancel();
    });
  });

  it('a logout through instance A reaches a subscriber on instance B', async () => {
    const w = watch(gh2, watcherKey);
    await w.until((x) => x.heartbeats().length >= 1, 'stream open on B');
    const u = await registerUser(gh);
    await call(gh.auth, 'logout', { refreshToken: u.tokens.refreshToken });
    await w.until(
      (x) => matching(x, (e) => e.sessionId === u.tokens.sessionId).length === 1,
      'logout event on B',
    );
    const [event] = matching(w, (e) => e.sessionId === u.tokens.sessionId);
    assert.equal(event?.scope, RevocationScope.REVOCATION_SCOPE_SESSION);
    assert.equal(event?.reason, RevocationReason.REVOCATION_REASON_LOGOUT);
    assert.equal(event?.userId, u.user.id);
    assert.ok(event?.revokeTime instanceof Date);
    w.cancel();
  });

  it('every kind of revocation produces its event', async () => {
    const w = watch(gh2, watcherKey);
    await w.until((x) => x.heartbeats().length >= 1, 'stream open');
    const login = async (email: string, password = PASSWORD) => {
      const res = await call(gh.auth, 'login', { identifier: email, password });
      if (res.tokens === undefined) throw new Error('no tokens');
      return res.tokens;
    };
    const expected: {
      what: string;
      pick: (e: RevocationEvent) => boolean;
      reason: number;
      scope: number;
    }[] = [];
    const expect = (
      what: string,
      pick: (e: RevocationEvent) => boolean,
      reason: RevocationReason,
      scope: RevocationScope,
    ) => expected.push({ what, pick, reason, scope });
    const S = RevocationScope;
    const R = RevocationReason;

    // Logout.
    const a = await registerUser(gh);
    await call(gh.auth, 'logout', { refreshToken: a.tokens.refreshToken });
    expect(
      'logout',
      (e) => e.sessionId === a.tokens.sessionId,
      R.REVOCATION_REASON_LOGOUT,
      S.REVOCATION_SCOPE_SESSION,
    );

    // RevokeSession and RevokeOtherSessions.
    const b = await registerUser(gh);
    const b2 = await login(b.email);
    await call(
      gh.auth,
      'revokeSession',
      { sessionId: b2.sessionId },
      { token: b.tokens.accessToken },
    );
    expect(
      'RevokeSession',
      (e) => e.sessionId === b2.sessionId,
      R.REVOCATION_REASON_SESSION_REVOKED,
      S.REVOCATION_SCOPE_SESSION,
    );
    const b3 = await login(b.email);
    await call(gh.auth, 'revokeOtherSessions', {}, { token: b3.accessToken });
    expect(
      'RevokeOtherSessions',
      (e) => e.sessionId === b.tokens.sessionId,
      R.REVOCATION_REASON_SESSION_REVOKED,
      S.REVOCATION_SCOPE_SESSION,
    );

    // ChangePassword ends the other sessions.
    const c = await registerUser(gh);
    const c2 = await login(c.email);
    await call(
      gh.auth,
      'changePassword',
      { currentPassword: PASSWORD, newPassword: NEW_PASSWORD },
      { token: c2.accessToken },
    );
    expect(
      'ChangePassword',
      (e) => e.sessionId === c.tokens.sessionId,
      R.REVOCATION_REASON_PASSWORD_CHANGED,
      S.REVOCATION_SCOPE_SESSION,
    );

    // Password reset by mail.
    const d = await registerUser(gh);
    await call(gh.auth, 'requestPasswordReset', { email: d.email });
    const mail = await smtp.next(d.email);
    await call(gh.auth, 'resetPassword', {
      token: tokenFromLink(mail.text, RESET_URL).token,
      newPassword: NEW_PASSWORD,
    });
    expect(
      'ResetPassword',
      (e) => e.sessionId === d.tokens.sessionId,
      R.REVOCATION_REASON_PASSWORD_RESET,
      S.REVOCATION_SCOPE_SESSION,
    );

    // Refresh-token reuse (no grace window in this file).
    const f = await registerUser(gh);
    await call(gh.auth, 'refresh', { refreshToken: f.tokens.refreshToken });
    await call(gh.auth, 'refresh', { refreshToken: f.tokens.refreshToken }).catch(() => {});
    expect(
      'refresh reuse',
      (e) => e.sessionId === f.tokens.sessionId,
      R.REVOCATION_REASON_REFRESH_REUSE,
      S.REVOCATION_SCOPE_SESSION,
    );

    // An administrator's RevokeUserSessions, DisableUser and DeleteUser.
    const g = await registerUser(gh);
    await call(gh.admin, 'revokeUserSessions', { userId: g.user.id }, { token: adminToken });
    expect(
      'RevokeUserSessions',
      (e) => e.sessionId === g.tokens.sessionId,
      R.REVOCATION_REASON_SESSION_REVOKED,
      S.REVOCATION_SCOPE_SESSION,
    );
    const h = await registerUser(gh);
    await call(gh.admin, 'disableUser', { userId: h.user.id }, { token: adminToken });
    expect(
      'DisableUser',
      (e) => e.userId === h.user.id && e.scope === S.REVOCATION_SCOPE_USER,
      R.REVOCATION_REASON_USER_DISABLED,
      S.REVOCATION_SCOPE_USER,
    );
    expect(
      'DisableUser (its session)',
      (e) => e.sessionId === h.tokens.sessionId,
      R.REVOCATION_REASON_USER_DISABLED,
      S.REVOCATION_SCOPE_SESSION,
    );
    const i = await registerUser(gh);
    await call(gh.admin, 'deleteUser', { userId: i.user.id }, { token: adminToken });
    expect(
      'DeleteUser',
      (e) => e.userId === i.user.id && e.scope === S.REVOCATION_SCOPE_USER,
      R.REVOCATION_REASON_USER_DELETED,
      S.REVOCATION_SCOPE_USER,
    );

    // A user's own API key, and a service account's key.
    const j = await registerUser(gh);
    const userKey = await call(
      gh.apiKeys,
      'createApiKey',
      { displayName: 'ci', roles: [] },
      { token: j.tokens.accessToken },
    );
    const userKeyId = userKey.apiKey?.id ?? '';
    await call(
      gh.apiKeys,
      'revokeApiKey',
      { apiKeyId: userKeyId },
      { token: j.tokens.accessToken },
    );
    expect(
      'RevokeApiKey',
      (e) => e.apiKeyId === userKeyId && e.userId === j.user.id,
      R.REVOCATION_REASON_API_KEY_REVOKED,
      S.REVOCATION_SCOPE_API_KEY,
    );
    const sa = await serviceAccountKey([]);
    await call(
      gh.serviceAccounts,
      'revokeServiceAccountKey',
      { serviceAccountId: sa.serviceAccountId, apiKeyId: sa.apiKeyId },
      { token: adminToken },
    );
    expect(
      'RevokeServiceAccountKey',
      (e) => e.apiKeyId === sa.apiKeyId && e.serviceAccountId === sa.serviceAccountId,
      R.REVOCATION_REASON_API_KEY_REVOKED,
      S.REVOCATION_SCOPE_API_KEY,
    );

    // RemoveMember.
    const k = await registerUser(gh);
    const org = await call(
      gh.organizations,
      'createOrganization',
      { slug: unique('hotel'), displayName: '', attributes: {} },
      { token: adminToken },
    );
    const orgId = org.organization?.id ?? '';
    await call(
      gh.organizations,
      'addMember',
      { organizationId: orgId, userId: k.user.id, serviceAccountId: '', roleIds: [] },
      { token: adminToken },
    );
    await call(
      gh.organizations,
      'removeMember',
      { organizationId: orgId, userId: k.user.id, serviceAccountId: '' },
      { token: adminToken },
    );
    expect(
      'RemoveMember',
      (e) => e.organizationId === orgId && e.userId === k.user.id,
      R.REVOCATION_REASON_MEMBERSHIP_REMOVED,
      S.REVOCATION_SCOPE_USER_ORGANIZATION,
    );

    // DisableServiceAccount: its keys.
    const sb = await serviceAccountKey([]);
    await call(
      gh.serviceAccounts,
      'disableServiceAccount',
      { serviceAccountId: sb.serviceAccountId },
      { token: adminToken },
    );
    expect(
      'DisableServiceAccount',
      (e) => e.apiKeyId === sb.apiKeyId && e.serviceAccountId === sb.serviceAccountId,
      R.REVOCATION_REASON_SERVICE_ACCOUNT_DISABLED,
      S.REVOCATION_SCOPE_API_KEY,
    );

    await w.until(
      (x) => expected.every((ex) => matching(x, ex.pick).length > 0),
      `an event of each kind (missing: ${expected.filter((ex) => matching(w, ex.pick).length === 0).map((ex) => ex.what)})`,
    );
    for (const ex of expected) {
      const found = matching(w, ex.pick);
      assert.equal(found.length, 1, `${ex.what}: exactly one event`);
      assert.equal(found[0]?.reason, ex.reason, `${ex.what}: reason`);
      assert.equal(found[0]?.scope, ex.scope, `${ex.what}: scope`);
    }
    // Cursors increase along the stream.
    const cursors = w.events().map((e) => BigInt(e.cursor));
    assert.deepEqual(
      [...cursors].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
      cursors,
    );
    assert.equal(new Set(cursors).size, cursors.length, 'no event twice');
    w.cancel();
  });

  it('resumes after a cursor with exactly the events missed, in order', async () => {
    const first = watch(gh, watcherKey);
    await first.until((x) => x.heartbeats().length >= 1, 'first stream open');
    const cursor = first.heartbeats().at(-1)?.cursor ?? '';
    first.cancel();
    const users = [await registerUser(gh), await registerUser(gh), await registerUser(gh)];
    for (const u of users) await call(gh.auth, 'logout', { refreshToken: u.tokens.refreshToken });
    const resumed = watch(gh2, watcherKey, cursor);
    // The backlog comes before the first heartbeat.
    await resumed.until((x) => x.heartbeats().length >= 1, 'heartbeat after the backlog');
    const beforeHeartbeat = resumed.messages.slice(
      0,
      resumed.messages.findIndex((m) => m.kind?.$case === 'heartbeat'),
    );
    const backlog = beforeHeartbeat.flatMap((m) =>
      m.kind?.$case === 'event' ? [m.kind.value] : [],
    );
    assert.deepEqual(
      backlog.map((e) => e.sessionId),
      users.map((u) => u.tokens.sessionId),
    );
    assert.equal(
      resumed.heartbeats()[0]?.cursor,
      backlog.at(-1)?.cursor,
      'the heartbeat carries the newest cursor',
    );
    resumed.cancel();
  });

  it('sends heartbeats on an idle stream', async () => {
    const w = watch(gh, watcherKey);
    await w.until((x) => x.heartbeats().length >= 3, 'three heartbeats');
    const [h1, h2, h3] = w.heartbeats();
    assert.ok(h1 && h2 && h3);
    assert.ok((h3.serverTime?.getTime() ?? 0) >= (h1.serverTime?.getTime() ?? 0));
    w.cancel();
  });

  it('orders events by commit, not by insertion: no gap when transactions commit out of order', async () => {
    const u1 = await registerUser(gh);
    const u2 = await registerUser(gh);
    const w = watch(gh, watcherKey);
    await w.until((x) => x.heartbeats().length >= 1, 'stream open');
    const start = w.heartbeats()[0]?.cursor ?? '';
    const txA = new pg.Client({ connectionString: gh.db.url });
    const txB = new pg.Client({ connectionString: gh.db.url });
    await txA.connect();
    await txB.connect();
    const revoke = `UPDATE sessions SET revoked_at = now(), revoked_reason = 'admin_revoke' WHERE id = $1`;
    try {
      // A inserts its event first (the lower id) but commits last.
      await txA.query('BEGIN');
      await txA.query(revoke, [u1.tokens.sessionId]);
      await txB.query('BEGIN');
      await txB.query(revoke, [u2.tokens.sessionId]);
      await txB.query('COMMIT');
      await w.until(
        (x) => matching(x, (e) => e.sessionId === u2.tokens.sessionId).length === 1,
        "B's event",
      );
      assert.equal(
        matching(w, (e) => e.sessionId === u1.tokens.sessionId).length,
        0,
        'A is not committed',
      );
      await txA.query('COMMIT');
    } finally {
      await txA.end();
      await txB.end();
    }
    await w.until(
      (x) => matching(x, (e) => e.sessionId === u1.tokens.sessionId).length === 1,
      "A's event",
    );
    const ids = await sql(
      `SELECT session_id, id FROM revocation_events WHERE session_id = ANY($1) ORDER BY id`,
      [[u1.tokens.sessionId, u2.tokens.sessionId]],
    );
    assert.deepEqual(
      ids.map((r) => r.session_id),
      [u1.tokens.sessionId, u2.tokens.sessionId],
      'A drew the lower id',
    );
    const [b] = matching(w, (e) => e.sessionId === u2.tokens.sessionId);
    const [a] = matching(w, (e) => e.sessionId === u1.tokens.sessionId);
    assert.ok(BigInt(a?.cursor ?? 0) > BigInt(b?.cursor ?? 0), "A's cursor follows B's");
    w.cancel();
    // A subscriber that stopped right after B's event still gets A's on resume: no gap.
    const afterB = watch(gh2, watcherKey, b?.cursor ?? '');
    await afterB.until((x) => x.heartbeats().length >= 1, 'resumed after B');
    assert.ok(afterB.events().some((e) => e.sessionId === u1.tokens.sessionId));
    const fromStart = watch(gh2, watcherKey, start);
    await fromStart.until((x) => x.heartbeats().length >= 1, 'resumed from before both');
    assert.deepEqual(
      fromStart.events().map((e) => e.sessionId),
      [u2.tokens.sessionId, u1.tokens.sessionId],
    );
    afterB.cancel();
    fromStart.cancel();
  });

  it('ends a stream that stops reading and falls too far behind (RESOURCE_EXHAUSTED)', async () => {
    const w = watch(gh, watcherKey);
    await w.until((x) => x.heartbeats().length >= 1, 'stream open');
    w.pause();
    // A storm of revocations (an operator revoking in bulk): far more than the client's
    // flow-control window holds, so the server's writes back up ...
    const storm = (n: number) =>
      sql(
        `INSERT INTO revocation_events (scope, reason, user_id)
         SELECT 'user', 'other', gen_random_uuid() FROM generate_series(1, $1)`,
        [n],
      );
    await storm(20_000);
    // ... and more than REVOCATION_MAX_LAG (200) arrive while it is blocked: the server ends
    // the stream (its subscriber count drops) without waiting for the client to read.
    await eventually(
      async () => {
        await storm(300);
        return subscribers(gh);
      },
      (n) => n === 0,
      { what: 'the slow stream ended by the server' },
    );
    w.resume();
    await expectRpcError(w.ended, status.RESOURCE_EXHAUSTED, 'REVOCATION_SUBSCRIBER_TOO_SLOW');
    assert.ok(w.events().length < 20_000, 'it did not get everything');
  });

  it('refuses a malformed cursor (INVALID_ARGUMENT) and one newer than any event (OUT_OF_RANGE)', async () => {
    const bad = await expectRpcError(
      watch(gh, watcherKey, 'x12').ended,
      status.INVALID_ARGUMENT,
      'VALIDATION_FAILED',
    );
    assert.equal(bad.fieldViolations?.[0]?.field, 'after_cursor');
    await expectRpcError(
      watch(gh, watcherKey, '99999999999').ended,
      status.OUT_OF_RANGE,
      'REVOCATION_CURSOR_EXPIRED',
    );
  });

  it('answers OUT_OF_RANGE REVOCATION_CURSOR_EXPIRED for a cursor older than what is kept', async () => {
    const w = watch(gh, watcherKey);
    await w.until((x) => x.heartbeats().length >= 1, 'stream open');
    const old = w.heartbeats()[0]?.cursor ?? '';
    w.cancel();
    const u = await registerUser(gh);
    await call(gh.auth, 'logout', { refreshToken: u.tokens.refreshToken });
    await eventuallyNumbered();
    // A day passes (the retention here is the default, 24 h): then the cleanup job prunes.
    await sql(`UPDATE revocation_events SET revoke_time = revoke_time - interval '25 hours'`);
    const pool = await createDatabase({
      url: gh.db.url,
      poolMax: 2,
      statementTimeoutMs: 5000,
      connectTimeoutMs: 3000,
    });
    const cleanupMetrics = createCleanupMetrics(new Registry());
    try {
      const runner = createCleanupRunner({
        pool,
        log: createLogger('silent'),
        metrics: cleanupMetrics,
        config: { intervalSec: 900, settings: {} },
        revocationRetentionSec: 86_400,
      });
      await runner.tick();
      await runner.stop();
    } finally {
      await pool.end();
    }
    const [left] = await sql(`SELECT count(*)::int AS n FROM revocation_events`);
    assert.equal(left?.n, 0, 'every event past the retention is pruned');
    const pruned = (await cleanupMetrics.deletedRows.get()).values.find(
      (v) => v.labels.table === 'revocation_events',
    );
    assert.ok((pruned?.value ?? 0) > 0, 'counted in gatehouse_cleanup_deleted_rows_total');
    const err = await expectRpcError(
      watch(gh, watcherKey, old).ended,
      status.OUT_OF_RANGE,
      'REVOCATION_CURSOR_EXPIRED',
    );
    const oldest = err.errorInfo?.metadata?.oldest_cursor ?? '';
    assert.ok(BigInt(oldest) > BigInt(old), 'oldest_cursor is past the old cursor');
    // The oldest cursor itself can be resumed.
    const resumed = watch(gh, watcherKey, oldest);
    await resumed.until((x) => x.heartbeats().length >= 1, 'resumed at oldest_cursor');
    resumed.cancel();
  });

  /** gatehouse_revocation_subscribers of an instance. */
  async function subscribers(g: Gatehouse): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${g.app.httpPort}/metrics`)).text();
    return Number(/^gatehouse_revocation_subscribers (\d+)/m.exec(text)?.[1] ?? Number.NaN);
  }

  /** Until every committed event has its position (the instances number them on notification). */
  async function eventuallyNumbered() {
    await eventually(
      async () =>
        Number(
          (await sql(`SELECT count(*) AS n FROM revocation_events WHERE position IS NULL`))[0]?.n,
        ),
      (n) => n === 0,
      { what: 'events numbered' },
    );
  }

  it('ends open streams cleanly on SIGTERM (UNAVAILABLE SHUTTING_DOWN), without holding up the exit', async () => {
    const proc = await spawnGatehouse({
      DATABASE_URL: gh.db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: `ghtest:${unique('rev')}:`,
      LOG_LEVEL: 'info',
      SHUTDOWN_GRACE_MS: '30000',
    });
    const client = new AuthServiceClient(
      `127.0.0.1:${proc.grpcPort}`,
      credentials.createInsecure(),
    );
    try {
      const w = watchRevocations(client, watcherKey);
      await w.until((x) => x.heartbeats().length >= 1, 'stream open');
      proc.process.kill('SIGTERM');
      const s = await expectRpcError(w.ended, status.UNAVAILABLE, 'SHUTTING_DOWN');
      assert.match(s.message, /shutting down/);
      assert.equal(await proc.exited, 0, 'clean exit');
      const msgs = proc.logs.map((l) => l.msg);
      assert.ok(!msgs.includes('shutdown grace period over: cancelling remaining calls'));
    } finally {
      client.close();
      proc.process.kill('SIGKILL');
    }
  });

  it('counts subscribers and events sent in /metrics', async () => {
    const w = watch(gh, watcherKey);
    await w.until((x) => x.heartbeats().length >= 1, 'stream open');
    const res = await fetch(`http://127.0.0.1:${gh.app.httpPort}/metrics`);
    const text = await res.text();
    assert.match(text, /^gatehouse_revocation_subscribers [1-9]/m);
    assert.match(text, /^gatehouse_revocation_events_sent_total [1-9]/m);
    w.cancel();
  });
});
