import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/testDatabase.ts';
import { createDatabase, type DatabasePool } from '../storage/createDatabase.ts';
import { sql } from '../storage/sql.ts';
import { classifyError } from './classifyError.ts';

/** Runs `fn` and returns what it threw (the test fails if it did not throw). */
async function thrown(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected the query to fail');
}

// Real errors from a real PostgreSQL through the same slonik pool setup the service uses.
describe('classifyError on PostgreSQL failures', () => {
  let db: TestDatabase;
  let pool: DatabasePool;
  before(async () => {
    db = await createTestDatabase();
    await db.query('CREATE TABLE t (id int PRIMARY KEY)');
    await db.query('INSERT INTO t VALUES (1)');
    pool = await createDatabase({
      url: db.url,
      poolMax: 2,
      statementTimeoutMs: 200,
      connectTimeoutMs: 3000,
    });
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  it('a statement timeout is UNAVAILABLE DATABASE_TIMEOUT with a retry delay', async () => {
    const error = await thrown(() => pool.query(sql.unsafe`SELECT pg_sleep(5)`));
    const e = classifyError(error);
    assert.equal(e?.reason, 'DATABASE_TIMEOUT');
    assert.ok((e?.retryAfterMs ?? 0) > 0);
  });

  it('a lock timeout (55P03) is DATABASE_TIMEOUT', async () => {
    const holder = await db.pool.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM t WHERE id = 1 FOR UPDATE');
      const error = await thrown(() =>
        pool.transaction(async (tx) => {
          await tx.query(sql.unsafe`SET LOCAL lock_timeout = '20ms'`);
          await tx.query(sql.unsafe`SELECT id FROM t WHERE id = 1 FOR UPDATE`);
        }),
      );
      assert.equal((error as { code?: string }).code, '55P03');
      assert.equal(classifyError(error)?.reason, 'DATABASE_TIMEOUT');
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
    }
  });

  for (const [sqlState, what] of [
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock'],
  ] as const) {
    it(`a ${what} (${sqlState}) is ABORTED TRANSACTION_CONFLICT with a retry delay`, async () => {
      // PostgreSQL raising the very SQLSTATE it uses for a real ${what}.
      const error = await thrown(() =>
        pool.query(
          sql.unsafe`DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = ${sql.literalValue(sqlState)}; END $$`,
        ),
      );
      const e = classifyError(error);
      assert.equal(e?.reason, 'TRANSACTION_CONFLICT');
      assert.ok((e?.retryAfterMs ?? 0) > 0);
    });
  }

  it('a programming error stays unclassified (INTERNAL)', async () => {
    const error = await thrown(() => pool.query(sql.unsafe`SELECT no_such_column FROM t`));
    assert.equal(classifyError(error), undefined);
  });
});
