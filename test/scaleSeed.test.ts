import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import argon2 from 'argon2';
import {
  BENCH_PASSWORD,
  SCALE_AUDIT_PER_USER,
  SCALE_SESSIONS_PER_USER,
  scaleEmail,
  scaleRefreshToken,
  seedScaleUsers,
} from '../bench/lib/seed.ts';
import { expectRpcError } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';

const USERS = 60;

/**
 * The scale benchmark's SQL seeding (bench/lib/seed.ts) makes rows the real server accepts:
 * seeded users log in with the known password, seeded refresh tokens rotate, the dead 1% is
 * refused and is what the cleanup removes. And bench/explain.ts finds an index for every hot
 * statement (it exits non-zero otherwise).
 */
describe('scale benchmark seeding', () => {
  let gh: Gatehouse;

  before(async () => {
    gh = await startGatehouse({ CLEANUP_ENABLED: 'false' });
    await seedScaleUsers(gh.db.pool, {
      // Parameters other than the server's only mean a rehash on the first login.
      passwordHash: await argon2.hash(BENCH_PASSWORD.normalize('NFKC'), { type: argon2.argon2id }),
      sessionIdleSec: 3600,
      sessionAbsoluteSec: 86_400,
      from: 1,
      to: USERS,
    });
  });
  after(() => gh?.stop());

  it('seeds 5 sessions and refresh tokens and 10 audit rows per user', async () => {
    const [row] = await gh.db.query<{
      users: number;
      sessions: number;
      tokens: number;
      audit: number;
    }>(
      `SELECT (SELECT count(*)::int FROM users WHERE email_normalized LIKE 'scale-%') AS users,
              (SELECT count(*)::int FROM sessions) AS sessions,
              (SELECT count(*)::int FROM refresh_tokens) AS tokens,
              (SELECT count(*)::int FROM audit_events) AS audit`,
    );
    assert.deepEqual(row, {
      users: USERS,
      sessions: USERS * SCALE_SESSIONS_PER_USER,
      tokens: USERS * SCALE_SESSIONS_PER_USER,
      audit: USERS * SCALE_AUDIT_PER_USER,
    });
  });

  it('lets a seeded user log in with the known password', async () => {
    const res = await call(gh.auth, 'login', {
      identifier: scaleEmail(7),
      password: BENCH_PASSWORD,
    });
    assert.ok(res.tokens?.accessToken);
  });

  it('rotates a seeded refresh token and refuses a dead one', async () => {
    const res = await call(gh.auth, 'refresh', { refreshToken: scaleRefreshToken(11, 2) });
    assert.match(res.tokens?.refreshToken ?? '', /^ghr_/);
    // Slot 5 of every 20th user is past its absolute lifetime.
    await expectRpcError(
      call(gh.auth, 'refresh', { refreshToken: scaleRefreshToken(20, 5) }),
      status.UNAUTHENTICATED,
      'INVALID_REFRESH_TOKEN',
    );
  });

  it('leaves the cleanup 1% of sessions with their tokens and 1% of audit rows to remove', async () => {
    const [run] = await gh.db.query<{ deleted: Record<string, number> }>(
      `SELECT deleted FROM gatehouse_run_cleanup('manual')`,
    );
    // Users 20, 40, 60 have a dead session; audit rows (10 g + j) % 100 = 0: j = 10, g = 9, 19, ...
    assert.equal(run?.deleted.sessions, 3);
    assert.equal(run?.deleted.refresh_tokens, 3);
    assert.equal(run?.deleted.audit_events, 6);
  });

  it('bench/explain.ts finds an index for every hot statement', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-explain-'));
    try {
      const out = join(dir, 'queries.md');
      const code = await new Promise<number>((resolve) => {
        execFile(
          process.execPath,
          [
            new URL('../bench/explain.ts', import.meta.url).pathname,
            '--users',
            '2000',
            '--out',
            out,
          ],
          { env: process.env },
          (error) => resolve(error ? Number((error as { code?: number }).code ?? 1) : 0),
        );
      });
      const doc = readFileSync(out, 'utf8');
      assert.equal(
        code,
        0,
        doc
          .split('\n')
          .filter((l) => l.startsWith('- '))
          .join('\n'),
      );
      assert.match(doc, /No hot statement reads a large table sequentially/);
      assert.match(doc, /lockRefreshTokenForRotation/);
      assert.match(doc, /refresh_tokens_token_hash_key/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
