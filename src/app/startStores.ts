import { type ApiKeyResolver, createApiKeyResolver } from '../apiKeys/createApiKeyResolver.ts';
import { createPermissionCache, type PermissionCache } from '../authz/createPermissionCache.ts';
import type { Config } from '../config.ts';
import { createKeyStore, type KeyStore } from '../keys/createKeyStore.ts';
import type { Logger } from '../log.ts';
import { type Cluster, createRedis, type Redis } from '../redis/createRedis.ts';
import { onRedisTopologyChange } from '../redis/onRedisTopologyChange.ts';
import { createNearSessionCache } from '../sessions/createNearSessionCache.ts';
import { createMemorySessionCache } from '../sessions/MemorySessionCache.ts';
import { createRedisSessionCache } from '../sessions/RedisSessionCache.ts';
import type { SessionCache } from '../sessions/SessionCache.ts';
import { startSessionChangeFeed } from '../sessions/startSessionChangeFeed.ts';
import { StartupError } from '../startup/StartupError.ts';
import { createDatabase, type DatabasePool } from '../storage/createDatabase.ts';
import { checkDatabaseConnection } from '../storage/describeDatabaseError.ts';
import { describePooledTimeouts } from '../storage/describePooledTimeouts.ts';
import { pooledDirectConnectionProblem } from '../storage/isBehindPooler.ts';
import { migrate } from '../storage/migrate.ts';
import { startEmbeddedPostgres } from '../storage/startEmbeddedPostgres.ts';
import type { Closers } from './createClosers.ts';

/** The stores every instance shares: PostgreSQL (the truth), Redis, the session cache, keys. */
export interface Stores {
  /** What the pool connects to: DATABASE_URL (PostgreSQL, or a pooler such as PgBouncer). */
  databaseUrl: string;
  /** PostgreSQL itself, for what keeps session state: migrations, LISTEN/NOTIFY. */
  directDatabaseUrl: string;
  pool: DatabasePool;
  /** Null without REDIS_URL (single instance, development only); a Cluster for redis+cluster://. */
  redis: Redis | Cluster | null;
  sessionCache: SessionCache;
  /** API key state on the hot path: an in-process cache kept current by the change feed. */
  apiKeys: ApiKeyResolver;
  /** Effective permissions on the hot path, kept current by the change feed. */
  permissions: PermissionCache;
  keys: KeyStore;
}

/**
 * Connects to PostgreSQL (embedded when DATABASE_URL is unset; migrated if configured), Redis
 * and the session and API key caches kept current by PostgreSQL's change feed, and loads the
 * signing keys. The pool may go through a transaction-mode pooler (DATABASE_URL); migrations and
 * LISTEN use DATABASE_DIRECT_URL, which must reach PostgreSQL itself (refused otherwise).
 */
export async function startStores(config: Config, log: Logger, closers: Closers): Promise<Stores> {
  let databaseUrl = config.database.url;
  let directDatabaseUrl = config.database.directUrl;
  if (databaseUrl === undefined || directDatabaseUrl === undefined) {
    const embedded = await startEmbeddedPostgres(config.dataDir, config.database.embeddedPort, log);
    closers.push(() => embedded.stop());
    databaseUrl = embedded.url;
    directDatabaseUrl = embedded.url;
  }
  const separateDirect = directDatabaseUrl !== databaseUrl;
  const direct = await checkDatabaseConnection({
    url: directDatabaseUrl,
    setting:
      config.database.url === undefined
        ? 'the embedded PostgreSQL'
        : separateDirect
          ? 'DATABASE_DIRECT_URL'
          : 'DATABASE_URL',
    connectTimeoutMs: config.database.connectTimeoutMs,
  });
  if (direct.behindPooler) {
    throw new StartupError(
      pooledDirectConnectionProblem('migrating (a session advisory lock) and LISTEN/NOTIFY'),
    );
  }
  const { behindPooler } = separateDirect
    ? await checkDatabaseConnection({
        url: databaseUrl,
        setting: 'DATABASE_URL',
        connectTimeoutMs: config.database.connectTimeoutMs,
      })
    : { behindPooler: false };
  if (config.database.migrateOnStart) {
    await migrate(directDatabaseUrl, (m) => log.info(m));
  }
  const pool = await createDatabase({ ...config.database, url: databaseUrl, behindPooler });
  closers.push(() => pool.end());
  if (behindPooler) {
    log.info('DATABASE_URL is a connection pooler: migrations and LISTEN use DATABASE_DIRECT_URL');
    for (const problem of await describePooledTimeouts(pool, config.database)) log.warn(problem);
  }

  let redis: Redis | Cluster | null = null;
  if (config.redis.url !== undefined) {
    const client = createRedis(config.redis.url, config.redis.commandTimeoutMs, log);
    closers.push(() => client.disconnect());
    redis = client;
  } else {
    log.warn(
      'REDIS_URL is not set: sessions cache and rate limits are kept in this process only ' +
        '(single instance, development only)',
    );
  }
  const sessionCache = redis
    ? createNearSessionCache(
        createRedisSessionCache(redis, config.redis.keyPrefix),
        config.sessionCache.localTtlMs,
      )
    : createMemorySessionCache();
  // A Redis that comes back may hold old data (a restored snapshot, a promoted replica): live
  // entries read before it returned, or before a cluster's masters changed, are checked
  // against PostgreSQL again.
  if (redis) {
    const stopWatching = onRedisTopologyChange(redis, (change) => {
      if (change === 'masters') {
        log.info('redis cluster masters changed; cached live sessions are re-checked');
      }
      sessionCache.distrustLive();
    });
    closers.push(stopWatching);
  }
  const apiKeys = createApiKeyResolver({ pool, log, cacheTtlMs: config.apiKeys.cacheTtlMs });
  const permissions = createPermissionCache({ pool, ttlMs: config.authz.cacheTtlMs });
  const sessionChanges = await startSessionChangeFeed({
    databaseUrl: directDatabaseUrl,
    pool,
    sessionCache,
    apiKeyCache: apiKeys,
    permissionCache: permissions,
    revokedTtlMs: (config.tokens.accessTtlSec + config.tokens.clockSkewSec) * 1000,
    connectTimeoutMs: config.database.connectTimeoutMs,
    log,
  });
  closers.push(() => sessionChanges.stop());

  const keys = createKeyStore(
    pool,
    {
      issuer: config.tokens.issuer,
      audience: config.tokens.audience,
      algorithm: config.tokens.algorithm,
      accessTtlSec: config.tokens.accessTtlSec,
      clockSkewSec: config.tokens.clockSkewSec,
      refreshSec: config.tokens.keyRefreshSec,
      privateKeyFile: config.tokens.privateKeyFile,
      verifiedCacheMaxBytes: config.tokens.verifiedCacheMaxBytes,
    },
    log,
  );
  await keys.start();
  closers.push(() => keys.stop());
  return { databaseUrl, directDatabaseUrl, pool, redis, sessionCache, apiKeys, permissions, keys };
}
