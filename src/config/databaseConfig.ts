import type { z } from 'zod';
import { envBool } from '../envBool.ts';
import { checkedUrl, type EnvRule, int } from './envFields.ts';

/** Why `value` is not a usable PostgreSQL connection URL, or null when it is. */
function postgresUrlProblem(value: string): string | null {
  const expected =
    'expected postgres://user:password@host:5432/database (percent-encode @ : / # ? in the password)';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `not a URL; ${expected}`;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return `the URL must start with postgres:// or postgresql://; ${expected}`;
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    return `no host in the URL; ${expected}`;
  }
  return null;
}

/** PostgreSQL: the server's URL (unset: embedded PostgreSQL), pool, timeouts, migrations. */
export const databaseEnvShape = {
  EMBEDDED_POSTGRES_PORT: int(54329, 1, 65535),
  DATABASE_URL: checkedUrl(postgresUrlProblem),
  /** PostgreSQL itself when DATABASE_URL is a pooler: migrations and LISTEN need a session. */
  DATABASE_DIRECT_URL: checkedUrl(postgresUrlProblem),
  DATABASE_POOL_MAX: int(10, 1, 500),
  DATABASE_STATEMENT_TIMEOUT_MS: int(5000, 100),
  DATABASE_CONNECT_TIMEOUT_MS: int(3000, 100),
  MIGRATE_ON_START: envBool.default(true),
};

type DatabaseEnv = z.infer<z.ZodObject<typeof databaseEnvShape>>;

export interface DatabaseConfig {
  url: string | undefined;
  /**
   * A direct connection (no transaction-mode pooler) for migrations, LISTEN/NOTIFY and anything
   * else that keeps session state; DATABASE_URL when DATABASE_DIRECT_URL is unset.
   */
  directUrl: string | undefined;
  poolMax: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
  migrateOnStart: boolean;
  embeddedPort: number;
}

export function toDatabaseConfig(e: DatabaseEnv): DatabaseConfig {
  return {
    url: e.DATABASE_URL,
    directUrl: e.DATABASE_DIRECT_URL ?? e.DATABASE_URL,
    poolMax: e.DATABASE_POOL_MAX,
    statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
    migrateOnStart: e.MIGRATE_ON_START,
    embeddedPort: e.EMBEDDED_POSTGRES_PORT,
  };
}

/** A direct URL beside the embedded database means a half-done switch to a server: say so. */
export const databaseEnvRules: EnvRule<DatabaseEnv>[] = [
  {
    reads: ['DATABASE_URL', 'DATABASE_DIRECT_URL'],
    problems: (e) =>
      e.DATABASE_DIRECT_URL !== undefined && e.DATABASE_URL === undefined
        ? [
            'DATABASE_DIRECT_URL: set without DATABASE_URL; set DATABASE_URL too (the pooler, or the same server), or unset both for the embedded development database',
          ]
        : [],
  },
];
