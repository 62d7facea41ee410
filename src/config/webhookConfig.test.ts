import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../config.ts';

const base = { DATABASE_URL: 'postgres://localhost/gatehouse', NODE_ENV: 'test' };

describe('WEBHOOK_* settings', () => {
  it('default to https and public addresses only, 5 s attempts, 24 h of retries and overlap', () => {
    const c = loadConfig(base).webhooks;
    assert.deepEqual(c.addresses, {
      allowHttp: false,
      allowPrivateNetworks: false,
      allowedCidrs: [],
    });
    assert.equal(c.timeoutMs, 5000);
    assert.equal(c.retryPeriodSec, 24 * 3600);
    assert.equal(c.secretOverlapSec, 24 * 3600);
  });

  it('read the allow-list of CIDR ranges and refuse anything else, naming the variable', () => {
    const c = loadConfig({ ...base, WEBHOOK_ALLOWED_CIDRS: '10.20.0.0/16, fd00:1::/64' }).webhooks;
    assert.deepEqual(c.addresses.allowedCidrs, ['10.20.0.0/16', 'fd00:1::/64']);
    assert.throws(
      () => loadConfig({ ...base, WEBHOOK_ALLOWED_CIDRS: '10.20.0.0' }),
      (e: unknown) =>
        e instanceof ConfigError && e.problems.some((p) => p.startsWith('WEBHOOK_ALLOWED_CIDRS')),
    );
    assert.throws(
      () => loadConfig({ ...base, WEBHOOK_TIMEOUT_MS: '0' }),
      (e: unknown) =>
        e instanceof ConfigError && e.problems.some((p) => p.startsWith('WEBHOOK_TIMEOUT_MS')),
    );
  });
});
