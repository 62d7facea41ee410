import type { RevocationReason } from '../domain/Session.ts';
import type { Logger } from '../log.ts';
import type { SessionCache } from './SessionCache.ts';

/** What telling the session cache about a committed change needs. */
export interface SessionCacheUpdateDeps {
  sessionCache: SessionCache;
  log: Logger;
}

/** What marking sessions revoked needs besides: the metric, and how long a mark must last. */
export interface RevocationDeps extends SessionCacheUpdateDeps {
  events: { sessionsRevoked(count: number, reason: RevocationReason): void };
  tokens: { accessTtlSec: number; clockSkewSec: number };
}

/**
 * Applies a change PostgreSQL already committed to the cache. If the cache is unreachable the
 * change still holds in PostgreSQL, but the cache may keep (or come back with) a "live" entry, so
 * its live entries are checked against PostgreSQL again.
 */
async function applyOrDistrust(
  deps: SessionCacheUpdateDeps,
  count: number,
  apply: () => Promise<void>,
  failure: string,
): Promise<void> {
  try {
    await apply();
  } catch (err) {
    deps.sessionCache.distrustLive();
    deps.log.warn({ err, count }, failure);
  }
}

/**
 * Marks sessions revoked in the cache shared by every instance, after the PostgreSQL commit that
 * revoked them, and counts them by `reason`. Other instances' caches also learn it from the
 * session change feed.
 */
export async function markSessionsRevoked(
  deps: RevocationDeps,
  sessionIds: readonly string[],
  reason: RevocationReason,
): Promise<void> {
  if (sessionIds.length === 0) return;
  deps.events.sessionsRevoked(sessionIds.length, reason);
  const ttlMs = (deps.tokens.accessTtlSec + deps.tokens.clockSkewSec) * 1000;
  await applyOrDistrust(
    deps,
    sessionIds.length,
    () => deps.sessionCache.markRevoked(sessionIds, ttlMs),
    'could not publish session revocations to the cache; live entries are re-checked',
  );
}

/**
 * Drops cached session state after a committed role or status change, so ValidateToken reads
 * the new state from PostgreSQL on its next lookup. Admin authorization itself never trusts the
 * cache.
 */
export async function forgetCachedSessions(
  deps: SessionCacheUpdateDeps,
  sessionIds: readonly string[],
): Promise<void> {
  if (sessionIds.length === 0) return;
  await applyOrDistrust(
    deps,
    sessionIds.length,
    () => deps.sessionCache.forget(sessionIds),
    'could not drop sessions from the cache',
  );
}
