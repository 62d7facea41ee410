import { z } from 'zod';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

const timeoutsRow = z.object({
  statement_ms: z.number(),
  idle_in_transaction_ms: z.number(),
  role: z.string(),
  database: z.string(),
});

/**
 * Behind a transaction-mode pooler Gatehouse cannot set its timeouts per connection (see
 * createDatabase): one warning line per timeout the server sessions do not enforce at least as
 * tightly as configured (0 = none), with the statement that fixes it; empty when both do.
 * A server session's defaults come from the role and database settings, the same for every
 * session the pooler opens, so one sample speaks for all of them.
 */
export async function describePooledTimeouts(
  db: Db,
  wanted: { statementTimeoutMs: number },
): Promise<string[]> {
  const row = await db.one(sql.type(timeoutsRow)`
    SELECT
      (SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout') AS statement_ms,
      (SELECT setting::int FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout')
        AS idle_in_transaction_ms,
      current_user AS role,
      current_database() AS database`);
  const problems: string[] = [];
  const check = (name: string, actual: number, want: number, variable: string) => {
    if (actual !== 0 && actual <= want) return;
    problems.push(
      `DATABASE_URL reaches PostgreSQL through a connection pooler, which cannot pass ` +
        `Gatehouse's ${name} (${variable}: ${want} ms) to server sessions; they run with ` +
        `${actual === 0 ? 'none' : `${actual} ms`}. Set it where every server session gets it: ` +
        `ALTER ROLE "${row.role}" IN DATABASE "${row.database}" SET ${name} = '${want}ms' ` +
        `(docs/pgbouncer.md)`,
    );
  };
  check(
    'statement_timeout',
    row.statement_ms,
    wanted.statementTimeoutMs,
    'DATABASE_STATEMENT_TIMEOUT_MS',
  );
  check(
    'idle_in_transaction_session_timeout',
    row.idle_in_transaction_ms,
    wanted.statementTimeoutMs * 2,
    '2 x DATABASE_STATEMENT_TIMEOUT_MS',
  );
  return problems;
}
