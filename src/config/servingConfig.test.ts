import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config.ts';

const base = { DATABASE_URL: 'postgres://localhost/gatehouse', NODE_ENV: 'test' };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems];
    throw e;
  }
  return [];
}

describe('CONNECT_* settings', () => {
  it('default to a listener on 8081, CORS closed, no cookie; CONNECT_ENABLED=false turns it off', () => {
    const c = loadConfig(base).connect;
    assert.deepEqual(
      { host: c?.host, port: c?.port, origins: c?.corsOrigins, cookie: c?.refreshCookie },
      { host: '0.0.0.0', port: 8081, origins: [], cookie: false },
    );
    assert.equal(loadConfig({ ...base, CONNECT_ENABLED: 'false' }).connect, undefined);
  });

  it('take exact origins and refuse wildcards, paths and other schemes, naming the variable', () => {
    const c = loadConfig({
      ...base,
      CONNECT_CORS_ORIGINS: 'https://app.example.com, http://localhost:3000',
    }).connect;
    assert.deepEqual(c?.corsOrigins, ['https://app.example.com', 'http://localhost:3000']);
    for (const bad of [
      '*',
      'null',
      'app.example.com',
      'https://app.example.com/',
      'ftp://x.example',
    ]) {
      const found = problems({ CONNECT_CORS_ORIGINS: bad });
      assert.equal(found.length, 1, `${bad}: ${found.join('; ')}`);
      assert.match(found[0] ?? '', /^CONNECT_CORS_ORIGINS: /);
    }
    assert.match(
      problems({ CONNECT_CORS_ORIGINS: 'https://App.example.com:443' })[0] ?? '',
      /browsers send "https:\/\/app\.example\.com"/,
    );
  });

  it('refuse the refresh cookie without an origin to give it to', () => {
    assert.match(
      problems({ CONNECT_REFRESH_COOKIE: 'true' })[0] ?? '',
      /^CONNECT_REFRESH_COOKIE: .*CONNECT_CORS_ORIGINS/,
    );
    assert.deepEqual(
      problems({ CONNECT_REFRESH_COOKIE: 'true', CONNECT_CORS_ORIGINS: 'https://app.example.com' }),
      [],
    );
  });
});
