/**
 * Run by `npm test` before the test runner: the suite needs a reachable PostgreSQL and Redis,
 * and without them every file would fail on its own (and slowly). Prints one line per
 * unreachable service, saying what to do, and exits 1; prints nothing when both answer.
 */
import { Redis } from 'ioredis';
import { maskUrlPassword } from '../src/startup/maskUrlPassword.ts';
import { StartupError } from '../src/startup/StartupError.ts';
import { checkDatabaseConnection } from '../src/storage/describeDatabaseError.ts';
import { baseDatabaseUrl, redisUrl } from './helpers/testDatabase.ts';

const HINT =
  'the tests need PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres) ' +
  'and Redis (REDIS_URL, default redis://127.0.0.1:6379); see "scripts/run test" in the README';

async function postgresProblem(): Promise<string | null> {
  try {
    await checkDatabaseConnection({
      url: baseDatabaseUrl,
      setting: 'DATABASE_URL',
      connectTimeoutMs: 3000,
    });
    return null;
  } catch (error) {
    return error instanceof StartupError ? error.message : (error as Error).message;
  }
}

async function redisProblem(): Promise<string | null> {
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  // connect() rejects with "Connection is closed"; the cause comes as an 'error' event.
  let cause: Error | undefined;
  client.on('error', (error: Error) => {
    cause ??= error;
  });
  try {
    await client.connect();
    await client.ping();
    return null;
  } catch (error) {
    let at = redisUrl;
    try {
      at = new URL(redisUrl).host;
    } catch {}
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const why =
      code === 'ECONNREFUSED'
        ? 'connection refused (nothing listens there)'
        : (cause ?? (error as Error)).message;
    return `Redis at ${at} (REDIS_URL=${maskUrlPassword(redisUrl)}): ${why}: start Redis, or set REDIS_URL to a running server`;
  } finally {
    client.disconnect();
  }
}

const problems = (await Promise.all([postgresProblem(), redisProblem()])).filter(
  (p): p is string => p !== null,
);
if (problems.length > 0) {
  for (const p of problems) process.stderr.write(`cannot run the tests: ${p}\n`);
  process.stderr.write(`(${HINT})\n`);
  process.exit(1);
}
