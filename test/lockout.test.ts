import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { expectRpcError, rpcStatus } from './helpers/rpcError.ts';
import { call, type Gatehouse, startGatehouse } from './helpers/startGatehouse.ts';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/users.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('account lockout', () => {
  let gh: Gatehouse;
  before(async () => {
    gh = await startGatehouse({
      LOCKOUT_THRESHOLD: '5',
      LOCKOUT_BASE_SEC: '1',
      LOCKOUT_MAX_SEC: '2',
    });
  });
  after(async () => {
    await gh.stop({ keepDatabase: true });
    await gh.db.drop();
  });
  const login = (identifier: string, password: string) =>
    call(gh.auth, 'login', { identifier, password });

  it('locks after N consecutive failures, indistinguishably from a wrong password or an unknown account', async () => {
    const { email, user } = await registerUser(gh);
    const ghost = uniqueEmail('ghost');
    const seen = { real: [] as Buffer[], ghost: [] as Buffer[] };
    for (let i = 0; i < 7; i++) {
      for (const [who, identifier] of [
        ['real', email],
        ['ghost', ghost],
      ] as const) {
        try {
          await login(identifier, `wrong-guess-number-${i}`);
          assert.fail('a wrong password logged in');
        } catch (error) {
          const s = rpcStatus(error);
          assert.equal(s.grpcCode, status.UNAUTHENTICATED);
          seen[who].push(s.raw);
        }
      }
    }
    // The 6th and 7th answers (locked) are byte-identical to the earlier ones and to the ghost's.
    for (const raw of [...seen.real, ...seen.ghost]) assert.deepEqual(raw, seen.real[0]);
    // Even the right password is refused while locked, with the same answer.
    const locked = await expectRpcError(
      login(email, PASSWORD),
      status.UNAUTHENTICATED,
      'INVALID_CREDENTIALS',
    );
    assert.deepEqual(locked.raw, seen.real[0]);
    const [row] = await gh.db.query<{ locked_until: Date | null; lockout_count: number }>(
      'SELECT locked_until, lockout_count FROM users WHERE id = $1',
      [user.id],
    );
    assert.ok(row?.locked_until, 'locked_until is visible');
    assert.equal(row?.lockout_count, 1);
    const audit = await gh.db.query(
      'SELECT 1 FROM audit_events WHERE subject_user_id = $1 AND action = $2',
      [user.id, 'account_lock'],
    );
    assert.equal(audit.length, 1, 'the lock is audited');

    // The lock expires by itself (LOCKOUT_BASE_SEC=1).
    await sleep(1100);
    const ok = await login(email, PASSWORD);
    assert.equal(ok.user?.id, user.id);
  });

  it('grows the lock period with repeated lockouts, capped', async () => {
    const { email, user } = await registerUser(gh);
    const lockOnce = async () => {
      for (let i = 0; i < 5; i++) await login(email, 'wrong-password-xyz').catch(() => {});
      const [row] = await gh.db.query<{ secs: number }>(
        'SELECT EXTRACT(EPOCH FROM locked_until - now())::float8 AS secs FROM users WHERE id = $1',
        [user.id],
      );
      return row?.secs ?? 0;
    };
    const first = await lockOnce();
    assert.ok(first > 0 && first <= 1, `first lock ~1 s, got ${first}`);
    await sleep(1100);
    const second = await lockOnce();
    assert.ok(second > 1 && second <= 2, `second lock ~2 s, got ${second}`);
    await sleep(2100);
    const third = await lockOnce();
    assert.ok(third > 1 && third <= 2, `capped at LOCKOUT_MAX_SEC, got ${third}`);
  });

  it('lets 50 parallel wrong guesses run at most N password checks (no slack)', async () => {
    const { email, user } = await registerUser(gh);
    await gh.stop({ keepDatabase: true });
    gh = await startGatehouse({ LOCKOUT_THRESHOLD: '10' }, gh.db);
    await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => login(email, `parallel-wrong-${i}`)),
    );
    const rows = await gh.db.query<{ reason: string; n: string }>(
      `SELECT details->>'reason' AS reason, count(*) AS n FROM audit_events
       WHERE subject_user_id = $1 AND action = 'login' GROUP BY 1`,
      [user.id],
    );
    const counts = Object.fromEntries(rows.map((r) => [r.reason, Number(r.n)]));
    assert.equal(counts.wrong_password, 10, 'exactly N = 10 guesses were checked');
    assert.equal(counts.locked, 40, 'the rest were refused before any check');
  });
});
