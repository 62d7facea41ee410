import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { eventually } from '../../test/helpers/eventually.ts';
import { fastFailingClient, whenReady } from '../../test/helpers/fastFailingRedis.ts';
import { AppError } from '../errors/AppError.ts';
import { createRateLimitBudgets, type RateLimitSettings } from './createRateLimitBudgets.ts';

const log = pino({ level: 'silent' });
const settings = (points: Partial<Record<keyof RateLimitSettings, number>>): RateLimitSettings => ({
  ipRead: { points: points.ipRead ?? 100, windowSec: 60 },
  ipCredential: { points: points.ipCredential ?? 100, windowSec: 60 },
  account: { points: points.account ?? 100, windowSec: 60 },
  accountIp: { points: points.accountIp ?? 100, windowSec: 60 },
  apiKey: { points: points.apiKey ?? 100, windowSec: 60 },
});

/** The limit named by a RATE_LIMITED refusal, or 'admitted'. */
async function admission(call: Promise<void>): Promise<string> {
  try {
    await call;
    return 'admitted';
  } catch (error) {
    assert.ok(error instanceof AppError && error.reason === 'RATE_LIMITED', String(error));
    assert.ok(error.retryAfterMs !== undefined && error.retryAfterMs >= 1);
    return error.metadata.limit ?? '';
  }
}

describe('createRateLimitBudgets', () => {
  it('without Redis enforces every budget in-process, per source', async () => {
    const limits = createRateLimitBudgets(null, 'gh:', settings({ ipRead: 3 }), log);
    for (let i = 0; i < 3; i++)
      assert.equal(await admission(limits.admitSource('read', 'ip-1')), 'admitted');
    assert.equal(await admission(limits.admitSource('read', 'ip-1')), 'ip_read');
    assert.equal(
      await admission(limits.admitSource('read', 'ip-2')),
      'admitted',
      'keys are independent',
    );
    assert.equal(limits.status(), 'in-process');
  });

  it('refundSource gives back what one admitSource of the same class took', async () => {
    const limits = createRateLimitBudgets(
      null,
      'gh:',
      settings({ ipRead: 2, ipCredential: 1 }),
      log,
    );
    for (let i = 0; i < 5; i++) {
      assert.equal(await admission(limits.admitSource('credential', 'ip')), 'admitted');
      await limits.refundSource('credential', 'ip');
    }
    assert.equal(await admission(limits.admitSource('credential', 'ip')), 'admitted');
    assert.equal(await admission(limits.admitSource('credential', 'ip')), 'ip_credential');
    // The admitted call's read point, given back: two reads fit again.
    await limits.refundSource('read', 'ip');
    assert.equal(await admission(limits.admitSource('read', 'ip')), 'admitted');
    assert.equal(await admission(limits.admitSource('read', 'ip')), 'admitted');
    assert.equal(await admission(limits.admitSource('read', 'ip')), 'ip_read');
  });

  it('a refused call costs nothing: the budgets it did fit are refunded', async () => {
    const rejected: string[] = [];
    const limits = createRateLimitBudgets(
      null,
      'gh:',
      settings({ ipRead: 3, ipCredential: 1 }),
      log,
      {
        onRejected: (limit) => rejected.push(limit),
      },
    );
    assert.equal(await admission(limits.admitSource('credential', 'ip')), 'admitted');
    assert.equal(await admission(limits.admitSource('credential', 'ip')), 'ip_credential');
    // One read point spent by the admitted call; the refused one gave its read point back.
    assert.equal(await admission(limits.admitSource('read', 'ip')), 'admitted');
    assert.equal(await admission(limits.admitSource('read', 'ip')), 'admitted');
    assert.equal(await admission(limits.admitSource('read', 'ip')), 'ip_read');
    assert.deepEqual(rejected, ['ip_credential', 'ip_read']);

    const accounts = createRateLimitBudgets(
      null,
      'gh:',
      settings({ account: 2, accountIp: 1 }),
      log,
    );
    assert.equal(
      await admission(accounts.admitAccount('login', 'a@example.com', 'ip')),
      'admitted',
    );
    assert.equal(
      await admission(accounts.admitAccount('login', 'a@example.com', 'ip')),
      'account_ip',
    );
    assert.equal(
      await admission(accounts.admitAccount('login', 'a@example.com', 'ip-2')),
      'admitted',
      'the per-(account, source) refusal did not spend the account budget',
    );
    assert.equal(
      await admission(accounts.admitAccount('login', 'a@example.com', 'ip-3')),
      'account',
    );
  });

  describe('on Redis', () => {
    let redis: Redis;
    const prefix = `swtest-${randomUUID()}:`;
    before(async () => {
      redis = fastFailingClient(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
      await whenReady(redis);
    });
    after(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });

    it('keeps its keys under `<prefix>rl:<limit>:{<key>}:w`, accounts hashed, one tag per subject', async () => {
      const limits = createRateLimitBudgets(redis, prefix, settings({}), log);
      await limits.admitSource('credential', '203.0.113.7');
      await limits.admitAccount('login', 'someone@example.com', '2001:db8:1:2::9');
      const keys = (await redis.keys(`${prefix}*`)).toSorted();
      assert.equal(keys.length, 4);
      assert.deepEqual(keys.slice(2), [
        `${prefix}rl:ip_credential:{203.0.113.7}:w`,
        `${prefix}rl:ip_read:{203.0.113.7}:w`,
      ]);
      assert.match(keys[0] ?? '', /^swtest-[^:]+:rl:account:\{login:[\w-]{22}\}:w$/);
      assert.match(
        keys[1] ?? '',
        /^swtest-[^:]+:rl:account_ip:\{login:[\w-]{22}\}\|2001:db8:1:2::\/64:w$/,
      );
      assert.ok(
        keys.every((key) => !key.includes('someone')),
        'no address in clear',
      );
      assert.equal(limits.status(), 'redis');
    });

    it("spends a call's limits in one script: one command per admission, nothing counted when refused", async () => {
      const own = `${prefix}script:`;
      const limits = createRateLimitBudgets(
        redis,
        own,
        settings({ ipCredential: 2, account: 5, accountIp: 1 }),
        log,
      );
      const monitor = await redis.monitor();
      const seen: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[]) => seen.push(args));
      const sentinel = `sentinel-${randomUUID()}`;
      try {
        const source = '198.51.100.4';
        assert.equal(await admission(limits.admitSource('credential', source)), 'admitted');
        assert.equal(
          await admission(limits.admitAccount('login', 'one@example.com', source)),
          'admitted',
        );
        assert.equal(
          await admission(limits.admitAccount('login', 'one@example.com', source)),
          'account_ip',
        );
        await redis.echo(sentinel);
        await eventually(
          async () => seen,
          (s) => s.some((args) => args.includes(sentinel)),
          { what: 'MONITOR to show the sentinel' },
        );
      } finally {
        monitor.disconnect();
      }
      const scripts = seen.filter((args) => /^(eval|evalsha)$/i.test(args[0] ?? ''));
      assert.equal(scripts.length, 3, `one script per admission: ${JSON.stringify(seen)}`);
      for (const args of scripts) assert.equal(args[2], '2', 'two keys in each');
      // The refused admission counted nothing: the account budget holds the first call's point.
      const accountKey = (await redis.keys(`${own}rl:account:*`))[0] ?? '';
      assert.equal(await redis.hget(accountKey, 'c'), '1');
    });
  });
});
