import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { PASSWORD, registerUser } from './helpers/users.ts';

describe('metrics', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse({ REFRESH_REUSE_GRACE_SEC: '0', LOCKOUT_THRESHOLD: '2' });
  });
  after(async () => {
    await gh.stop();
  });
  const scrape = async () => (await fetch(`http://127.0.0.1:${gh.app.httpPort}/metrics`)).text();
  const value = (text: string, series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it('counts logins, lockouts, sessions, reuse detections and argon2 time', async () => {
    const a = await registerUser(gh);
    await call(gh.auth, 'login', { identifier: a.email, password: PASSWORD });
    for (let i = 0; i < 2; i++) {
      await call(gh.auth, 'login', { identifier: a.email, password: 'not-the-password' }).catch(
        () => {},
      );
    }
    const next = await call(gh.auth, 'refresh', { refreshToken: a.tokens.refreshToken });
    assert.ok(next.tokens);
    await call(gh.auth, 'refresh', { refreshToken: a.tokens.refreshToken }).catch(() => {});

    const text = await scrape();
    assert.equal(value(text, 'gatehouse_logins_total{outcome="success"}'), 1);
    assert.equal(value(text, 'gatehouse_logins_total{outcome="failure"}'), 2);
    assert.equal(value(text, 'gatehouse_lockouts_total'), 1);
    assert.equal(value(text, 'gatehouse_sessions_created_total'), 2);
    assert.equal(value(text, 'gatehouse_refresh_reuse_detected_total'), 1);
    assert.equal(value(text, 'gatehouse_sessions_revoked_total{reason="refresh_token_reuse"}'), 1);
    assert.ok((value(text, 'gatehouse_password_hash_seconds_count{op="verify"}') ?? 0) >= 3);
    assert.equal(value(text, 'gatehouse_dependency_up{dependency="postgres"}'), 1);
    assert.equal(value(text, 'gatehouse_dependency_up{dependency="redis"}'), 1);
    assert.ok(value(text, 'gatehouse_db_pool_connections{state="idle"}') !== undefined);
    assert.equal(value(text, 'gatehouse_rate_limit_mode{mode="redis"}'), 1);
    assert.ok((value(text, 'gatehouse_rpc_total{method="Login",code="16"}') ?? 0) >= 2);
  });

  it('serves the process and Node.js metrics under their standard names, once', async () => {
    const text = await scrape();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_heap_size_used_bytes',
    ]) {
      assert.ok(value(text, name) !== undefined, `${name} is served`);
    }
    assert.doesNotMatch(text, /gatehouse_process_/, 'no doubled prefix');
  });
});
