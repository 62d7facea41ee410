import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import { HealthClient } from './helpers/healthClient.ts';
import { freePort } from './helpers/redisServer.ts';
import { spawnGatehouse } from './helpers/spawnGatehouse.ts';
import { createTestDatabase, redisUrl, type TestDatabase } from './helpers/testDatabase.ts';
import { PASSWORD, uniqueEmail } from './helpers/users.ts';

describe('process lifecycle', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db.drop();
  });

  it('drains on SIGTERM: in-flight calls finish, then a clean exit', async () => {
    const gh = await spawnGatehouse({
      DATABASE_URL: db.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: 'ghtest:lifecycle:',
      LOG_LEVEL: 'info',
    });
    const client = new AuthServiceClient(`127.0.0.1:${gh.grpcPort}`, credentials.createInsecure());
    await new Promise((resolve) => client.getJwks({}, resolve)); // connected before the burst
    const calls = Array.from(
      { length: 24 },
      () =>
        new Promise<number>((resolve) => {
          client.register({ email: uniqueEmail('drain'), password: PASSWORD }, (err) =>
            resolve(err ? err.code : status.OK),
          );
        }),
    );
    await new Promise((r) => setTimeout(r, 10));
    gh.process.kill('SIGTERM');
    const codes = await Promise.all(calls);
    client.close();
    assert.equal(await gh.exited, 0, 'clean exit');
    for (const code of codes) {
      assert.ok(
        code === status.OK || code === status.UNAVAILABLE,
        `in-flight call ended with ${status[code]}`,
      );
    }
    assert.ok(
      codes.includes(status.OK),
      `calls accepted before SIGTERM completed: ${codes.map((c) => status[c])}`,
    );
    const msgs = gh.logs.map((l) => l.msg);
    assert.ok(msgs.includes('shutting down: draining in-flight calls'));
    assert.ok(msgs.includes('shutdown complete'));
    const rows = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM users WHERE email LIKE 'drain.%'`,
    );
    assert.equal(
      Number(rows[0]?.n),
      codes.filter((c) => c === status.OK).length,
      'every OK answer is a committed user',
    );
  });

  it('runs with the embedded PostgreSQL and in-process stores when no URLs are set', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-embedded-'));
    try {
      const gh = await spawnGatehouse({
        DATA_DIR: dataDir,
        EMBEDDED_POSTGRES_PORT: String(await freePort()),
      });
      const health = new HealthClient(`127.0.0.1:${gh.grpcPort}`);
      assert.equal(await health.check(''), 'SERVING');
      health.close();
      const client = new AuthServiceClient(
        `127.0.0.1:${gh.grpcPort}`,
        credentials.createInsecure(),
      );
      const registered = await new Promise<boolean>((resolve) =>
        client.register({ email: uniqueEmail('embedded'), password: PASSWORD }, (err, res) =>
          resolve(!err && Boolean(res.tokens)),
        ),
      );
      client.close();
      assert.ok(registered);
      assert.ok(
        gh.logs.some((l) => String(l.msg).startsWith('REDIS_URL is not set')),
        'says loudly that it is single-instance',
      );
      gh.process.kill('SIGTERM');
      assert.equal(await gh.exited, 0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
