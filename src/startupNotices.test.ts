import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.ts';
import { startupNotices } from './startupNotices.ts';

const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://gatehouse@db.example:5432/gatehouse',
  REDIS_URL: 'redis://cache.example:6379',
  MAIL_TRANSPORT: 'log',
};

describe('start-up notices', () => {
  it('warns in production when no trusted proxy is configured', () => {
    const warned = startupNotices(loadConfig(production)).warnings;
    assert.equal(warned.length, 1);
    assert.match(warned[0] ?? '', /TRUSTED_PROXIES is empty/);
    const configured = loadConfig({ ...production, TRUSTED_PROXIES: '10.0.0.0/8' });
    assert.deepEqual(startupNotices(configured).warnings, []);
  });

  it('uses exploring budgets in development and says so; production keeps its own', () => {
    const dev = loadConfig({});
    assert.equal(dev.env, 'development');
    assert.ok(dev.rateLimits.accountIp.points >= 1000);
    assert.match(startupNotices(dev).notes.join('\n'), /development rate limits/);
    const prod = loadConfig(production);
    assert.deepEqual(
      [prod.rateLimits.ipRead.points, prod.rateLimits.ipCredential.points],
      [1200, 60],
    );
    assert.deepEqual([prod.rateLimits.account.points, prod.rateLimits.accountIp.points], [20, 10]);
    assert.deepEqual(startupNotices(prod).notes, []);
    assert.equal(loadConfig({ RATE_LIMIT_ACCOUNT_IP_POINTS: '3' }).rateLimits.accountIp.points, 3);
  });
});
