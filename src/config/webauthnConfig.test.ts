import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config.ts';
import { isAllowedOrigin } from './webauthnConfig.ts';

const base = { DATABASE_URL: 'postgres://localhost/gatehouse' };

describe('WEBAUTHN_* settings', () => {
  it('default outside production to localhost on any port', () => {
    const c = loadConfig({ ...base, NODE_ENV: 'test' }).webauthn;
    assert.equal(c.rpId, 'localhost');
    assert.equal(c.rpName, 'Gatehouse');
    assert.ok(isAllowedOrigin(c.origins, 'http://localhost:5173'));
    assert.ok(isAllowedOrigin(c.origins, 'https://localhost'));
    assert.ok(!isAllowedOrigin(c.origins, 'http://localhost.evil.test:5173'));
    assert.ok(!isAllowedOrigin(c.origins, 'http://127.0.0.1:5173'));
  });

  it('leave passkeys unconfigured in production until both the RP id and origins are set', () => {
    const prod = { ...base, NODE_ENV: 'production', MAIL_TRANSPORT: 'log', REDIS_URL: 'redis://x' };
    assert.equal(loadConfig(prod).webauthn.rpId, null);
    assert.equal(loadConfig({ ...prod, WEBAUTHN_RP_ID: 'example.com' }).webauthn.rpId, null);
    const set = loadConfig({
      ...prod,
      WEBAUTHN_RP_ID: 'example.com',
      WEBAUTHN_ORIGINS: 'https://example.com, https://app.example.com',
    }).webauthn;
    assert.equal(set.rpId, 'example.com');
    assert.ok(isAllowedOrigin(set.origins, 'https://app.example.com'));
    assert.ok(!isAllowedOrigin(set.origins, 'https://app.example.com:8443'));
    assert.ok(!isAllowedOrigin(set.origins, 'http://example.com'));
  });

  it('reject malformed values, naming the variable', () => {
    assert.throws(
      () => loadConfig({ ...base, WEBAUTHN_RP_ID: 'https://example.com' }),
      (e: unknown) => e instanceof ConfigError && /^WEBAUTHN_RP_ID/.test(e.problems[0] ?? ''),
    );
    assert.throws(
      () => loadConfig({ ...base, WEBAUTHN_ORIGINS: 'example.com' }),
      (e: unknown) => e instanceof ConfigError && /^WEBAUTHN_ORIGINS/.test(e.problems[0] ?? ''),
    );
  });
});
