import type { AuthDeps } from '../auth/AuthDeps.ts';

/**
 * Drops cached session state after a committed role change, so ValidateToken reads the new
 * roles from PostgreSQL on its next lookup. If the cache is unreachable, its live entries are
 * re-checked against PostgreSQL instead; admin authorization itself never trusts the cache.
 */
export async function forgetCachedSessions(
  deps: AuthDeps,
  sessionIds: readonly string[],
): Promise<void> {
  if (sessionIds.length === 0) return;
  try {
    await deps.sessionCache.forget(sessionIds);
  } catch (err) {
    deps.sessionCache.distrustLive();
    deps.log.warn({ err, count: sessionIds.length }, 'could not drop sessions from the cache');
  }
}
