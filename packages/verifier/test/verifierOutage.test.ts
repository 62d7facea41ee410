import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { credentials } from '@grpc/grpc-js';
import { eventually } from '../../../test/helpers/eventually.ts';
import { call, type Gatehouse, startGatehouse } from '../../../test/helpers/startGatehouse.ts';
import type { TestDatabase } from '../../../test/helpers/testDatabase.ts';
import { registerUser } from '../../../test/helpers/users.ts';
import { createVerifier, type Verifier, type VerifierErrorCode } from '../src/index.ts';
import { recordCalls } from './recordCalls.ts';
import { adminToken, watcherKey } from './watcher.ts';

/** The shortest access-token lifetime Gatehouse accepts, so "down longer than it" comes soon. */
const SHORT_TTL = {
  REVOCATION_HEARTBEAT_SEC: '1',
  ACCESS_TOKEN_TTL_SEC: '30',
  API_KEY_ACCESS_TOKEN_TTL_SEC: '30',
};

async function outcome(v: Verifier, token: string): Promise<string> {
  try {
    return (await v.verify(token)).kind;
  } catch (error) {
    const code = (error as { code?: VerifierErrorCode }).code;
    if (code === undefined) throw error;
    return code;
  }
}

/**
 * Two instances on one database, as in production: the verifier follows instance A (whose
 * port survives a restart), revocations and fresh tokens can be made through B while A is down.
 */
describe('@gatehouse/verifier when the stream goes away', () => {
  const stoppers: (() => Promise<void>)[] = [];
  const verifiers: Verifier[] = [];
  after(async () => {
    for (const v of verifiers) v.close();
    for (const stop of stoppers.reverse()) await stop();
  });

  async function cluster(env: Record<string, string>) {
    let a = await startGatehouse(env);
    const db: TestDatabase = a.db;
    const port = a.app.grpcPort;
    const b = await startGatehouse(env, db);
    stoppers.push(
      () => db.drop(),
      () => b.stop(),
    );
    const admin = await adminToken(a);
    const watcher = await watcherKey(a, admin);
    let aRunning = true;
    stoppers.push(async () => {
      if (aRunning) await a.stop({ keepDatabase: true });
    });
    return {
      a: () => a,
      b,
      watcher,
      async stopA() {
        aRunning = false;
        await a.stop({ keepDatabase: true });
      },
      async restartA(): Promise<Gatehouse> {
        a = await startGatehouse({ ...env, GRPC_PORT: String(port) }, db);
        aRunning = true;
        return a;
      },
    };
  }

  function follow(target: string, apiKey: string, failOpenAfterStreamLoss = false) {
    const record = recordCalls();
    const verifier = createVerifier({
      target,
      credentials: { apiKey, channel: credentials.createInsecure() },
      interceptors: [record.interceptor],
      reconnectBackoff: { initialMs: 20, maxMs: 500 },
      failOpenAfterStreamLoss,
    });
    verifiers.push(verifier);
    return { verifier, record };
  }

  it('resumes with its cursor after a server restart and applies the revocations it missed', async () => {
    const c = await cluster({ REVOCATION_HEARTBEAT_SEC: '1' });
    const { verifier, record } = follow(c.a().target, c.watcher);
    await verifier.ready();
    // One revocation first, so that the resume point is an event's cursor.
    const first = await registerUser(c.a());
    await call(c.a().auth, 'logout', {}, { token: first.tokens.accessToken });
    await eventually(
      () => outcome(verifier, first.tokens.accessToken),
      (o) => o === 'TOKEN_REVOKED',
    );
    const u = await registerUser(c.a());
    assert.equal(await outcome(verifier, u.tokens.accessToken), 'user');
    const cursorBefore = verifier.status().stream.cursor;
    assert.notEqual(cursorBefore, '');

    await c.stopA();
    await eventually(
      async () => verifier.status().stream.state,
      (s) => s !== 'connected',
      { what: 'the verifier notices the stream ended' },
    );
    // Revoked through the other instance while the verifier's server is away.
    await call(c.b.auth, 'logout', {}, { token: u.tokens.accessToken });
    assert.equal(
      await outcome(verifier, u.tokens.accessToken),
      'user',
      'down for less than the token lifetime: still answering from what it knows',
    );
    const unaryBefore = record.calls.filter((x) => x.method !== 'WatchRevocations').length;
    await c.restartA();
    await eventually(
      () => outcome(verifier, u.tokens.accessToken),
      (o) => o === 'TOKEN_REVOKED',
      { what: 'the revocation missed while disconnected is applied', timeoutMs: 30_000 },
    );
    assert.equal(
      record.calls.filter((x) => x.method !== 'WatchRevocations').length,
      unaryBefore,
      'learnt from the resumed stream, not from ValidateToken',
    );
    const resumed = record.calls
      .filter((x) => x.method === 'WatchRevocations')
      .map((x) => (x.request as { afterCursor: string }).afterCursor);
    assert.equal(resumed[0], '', 'the first subscription starts from now');
    assert.ok(
      resumed.slice(1).includes(cursorBefore),
      `a later subscription resumed after ${cursorBefore} (got ${resumed.join(', ')})`,
    );
    assert.ok(!resumed.slice(1).includes(''), 'never restarted from scratch');
  });

  it('fails closed once the stream has been down longer than the access-token lifetime', async () => {
    const c = await cluster(SHORT_TTL);
    const closed = follow(c.a().target, c.watcher).verifier;
    const open = follow(c.a().target, c.watcher, true).verifier;
    await Promise.all([closed.ready(), open.ready()]);
    assert.equal(closed.status().accessTokenTtlMs, 30_000, 'the lifetime comes with heartbeats');
    const u = await registerUser(c.b);
    const login = async () =>
      (await call(c.b.auth, 'login', { identifier: u.email, password: u.password })).tokens
        ?.accessToken ?? '';

    await c.stopA();
    // Fresh tokens from instance B, valid in every other respect, until the verifier refuses.
    const refused = await eventually(
      async () => {
        const token = await login();
        return { token, closed: await outcome(closed, token) };
      },
      (r) => r.closed === 'STREAM_UNAVAILABLE',
      { what: 'the verifier fails closed', timeoutMs: 100_000, intervalMs: 500 },
    );
    assert.equal(closed.status().failingClosed, true);
    assert.equal(await outcome(open, refused.token), 'user', 'failOpenAfterStreamLoss: true');

    await c.restartA();
    await eventually(
      async () => outcome(closed, await login()),
      (o) => o === 'user',
      { what: 'the verifier accepts tokens again once the stream is back', timeoutMs: 30_000 },
    );
    assert.equal(closed.status().failingClosed, false);
  });
});
