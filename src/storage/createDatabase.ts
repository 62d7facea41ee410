import {
  createPool,
  type DatabasePool,
  type Interceptor,
  type QueryResultRow,
  SchemaValidationError,
} from 'slonik';
import { checkDatabaseConnection } from './describeDatabaseError.ts';

export type { DatabasePool };

/**
 * Validates every row against the zod schema given to `sql.type(...)`: slonik only uses the
 * schema for TypeScript types unless an interceptor runs it.
 */
const validateRows: Interceptor = {
  name: 'gatehouse-validate-rows',
  transformRow(ctx, query, row) {
    if (!ctx.resultParser) return row;
    const result = ctx.resultParser['~standard'].validate(row);
    if (result instanceof Promise) throw new Error('async row schemas are not supported');
    if (result.issues) throw new SchemaValidationError(query, row, result.issues);
    return result.value as QueryResultRow;
  },
};

export interface DatabaseOptions {
  url: string;
  poolMax: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  /** Run after the row validation (e.g. the EXPLAIN generator's plan capture); none in the app. */
  extraInterceptors?: readonly Interceptor[];
  /** Whether `url` is a connection pooler (PgBouncer); unset: found out by connecting once. */
  behindPooler?: boolean;
}

/**
 * Creates the slonik pool: timestamps as Date, int8 as number, rows validated, bounded waits.
 * Directly on PostgreSQL, the statement and idle-in-transaction timeouts are startup parameters
 * of each connection. A pooler refuses those (PgBouncer: "unsupported startup parameter") or,
 * told to ignore them, drops them; behind one they are left to the server's role or database
 * defaults, which every server session gets (see describePooledTimeouts).
 */
export async function createDatabase(options: DatabaseOptions): Promise<DatabasePool> {
  const behindPooler =
    options.behindPooler ??
    (
      await checkDatabaseConnection({
        url: options.url,
        setting: 'DATABASE_URL',
        connectTimeoutMs: options.connectTimeoutMs,
      })
    ).behindPooler;
  return createPool(options.url, {
    maximumPoolSize: options.poolMax,
    minimumPoolSize: 0,
    idleTimeout: 30_000,
    connectionTimeout: options.connectTimeoutMs,
    statementTimeout: behindPooler ? 'DISABLE_TIMEOUT' : options.statementTimeoutMs,
    idleInTransactionSessionTimeout: behindPooler
      ? 'DISABLE_TIMEOUT'
      : options.statementTimeoutMs * 2,
    connectionRetryLimit: 1,
    queryRetryLimit: 0,
    transactionRetryLimit: 3,
    interceptors: [validateRows, ...(options.extraInterceptors ?? [])],
    // No DISCARD ALL on every release (slonik's default, a round trip per query): Gatehouse keeps
    // no session state on pooled connections; settings and locks are transaction-scoped. That is
    // also what lets the pool run through PgBouncer's transaction pooling (docs/pgbouncer.md).
    resetConnection: async () => {},
    typeParsers: [
      { name: 'int8', parse: (v: string) => Number(v) },
      { name: 'timestamptz', parse: (v: string) => new Date(v) },
      { name: 'timestamp', parse: (v: string) => new Date(`${v}Z`) },
    ],
  });
}
