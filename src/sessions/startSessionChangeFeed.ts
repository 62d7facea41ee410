import type { PermissionCache } from '../authz/createPermissionCache.ts';
import type { Logger } from '../log.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { findLiveSessionIdsByUser } from '../storage/sessions.ts';
import { listenForSessionChanges, type SessionChangeListener } from './listenForSessionChanges.ts';
import type { SessionCache } from './SessionCache.ts';

/** What the feed drops from the in-process API key cache (see ApiKeyResolver). */
export interface ApiKeyCacheInvalidation {
  forget(changes: { apiKeyIds?: string[]; ownerIds?: string[] }): void;
  forgetAll(): void;
}

/**
 * Applies every committed session change announced by PostgreSQL to this instance's session
 * cache: revoked sessions are marked revoked (repairing the shared cache if the instance that
 * revoked them could not reach it), changed users' sessions are forgotten. If that fails, or
 * notifications were missed, live entries are re-checked against PostgreSQL instead. Changed
 * API keys, and the keys of changed users and service accounts, are dropped from the API key
 * cache first (all of it after a gap).
 */
export async function startSessionChangeFeed(d: {
  databaseUrl: string;
  pool: DatabasePool;
  sessionCache: SessionCache;
  apiKeyCache: ApiKeyCacheInvalidation;
  /** Effective permissions: all dropped on 'authz' or a gap, a changed principal's on 'u:'/'sa:'. */
  permissionCache: Pick<PermissionCache, 'forget' | 'forgetAll'>;
  /** How long a revoked marker must outlive the session's last access token. */
  revokedTtlMs: number;
  connectTimeoutMs: number;
  log: Logger;
}): Promise<SessionChangeListener> {
  const cache = d.sessionCache;
  const listener = listenForSessionChanges(
    d.databaseUrl,
    {
      async onChanges(changes) {
        if (changes.authzChanged) d.permissionCache.forgetAll();
        d.permissionCache.forget({
          userIds: changes.changedUserIds,
          serviceAccountIds: changes.changedServiceAccountIds,
        });
        if (
          changes.changedApiKeyIds.length > 0 ||
          changes.changedUserIds.length > 0 ||
          changes.changedServiceAccountIds.length > 0
        ) {
          d.apiKeyCache.forget({
            apiKeyIds: changes.changedApiKeyIds,
            ownerIds: [...changes.changedUserIds, ...changes.changedServiceAccountIds],
          });
        }
        try {
          await cache.markRevoked([...new Set(changes.revokedSessionIds)], d.revokedTtlMs);
          for (const userId of new Set(changes.changedUserIds)) {
            await cache.forget(await findLiveSessionIdsByUser(d.pool, userId));
          }
        } catch (err) {
          cache.distrustLive();
          throw err;
        }
      },
      onGap: () => {
        d.apiKeyCache.forgetAll();
        d.permissionCache.forgetAll();
        cache.distrustLive();
      },
    },
    d.log,
    { connectTimeoutMs: d.connectTimeoutMs },
  );
  await listener.ready;
  return listener;
}
