import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import {
  type RevocationEvent,
  RevocationReason,
  RevocationScope,
} from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { type RevocationWatch, watchRevocations } from './helpers/revocationWatch.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { registerUser } from './helpers/users.ts';

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** The events of `watch` that match `pick`. */
const matching = (watch: RevocationWatch, pick: (e: RevocationEvent) => boolean) =>
  watch.events().filter(pick);

describe('AuthService.WatchRevocations', () => {
  let gh: Gatehouse;
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
    const env = { REVOCATION_HEARTBEAT_SEC: '1', REFRESH_REUSE_GRACE_SEC: '0' };
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
});
