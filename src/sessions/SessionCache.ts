/**
 * What ValidateToken needs to know about a session without asking PostgreSQL. A live entry
 * carries the moment (epoch ms) its PostgreSQL read began, so entries read before a possible
 * missed revocation (a cache outage, a lost change notification) can be told apart and re-read.
 */
export type CachedSession =
  | { state: 'live'; userId: string; roles: string[]; readAt: number }
  | { state: 'revoked' };

/**
 * The hot-path view of session state. PostgreSQL stays the source of truth: a miss (or an
 * unreachable cache) is answered by reading through to it, so a flush revives nothing, and a
 * "live" entry read before `liveTrustedSince()` is checked against it again, so a cache that
 * comes back with old data (a restored snapshot, a healed partition) revives nothing either.
 */
export interface SessionCache {
  /** The cached state, or null on a miss. Throws when the cache is unreachable. */
  get(sessionId: string): Promise<CachedSession | null>;
  /**
   * Caches state whose PostgreSQL read began at `readAt` for `ttlMs`, unless an entry exists or
   * the session was forgotten after `readAt`: a read-through that raced with a revocation or a
   * role change must never overwrite it with what it read before.
   */
  fill(sessionId: string, value: CachedSession, ttlMs: number, readAt: number): Promise<void>;
  /**
   * Replaces `stale` (an entry `get` returned) with `fresh`, only if the entry is still exactly
   * `stale`: a revocation written in between wins.
   */
  replaceStale(
    sessionId: string,
    stale: CachedSession,
    fresh: CachedSession,
    ttlMs: number,
  ): Promise<void>;
  /** Marks sessions revoked for `ttlMs` (at least the remaining access-token lifetime). */
  markRevoked(sessionIds: readonly string[], ttlMs: number): Promise<void>;
  /**
   * Forgets sessions so the next lookup reads through (roles or status changed). Leaves a
   * marker of the moment, so a fill of a read that began before it is refused.
   */
  forget(sessionIds: readonly string[]): Promise<void>;
  /** Live entries read from PostgreSQL before this instant (epoch ms) are not to be trusted. */
  liveTrustedSince(): number;
  /**
   * Stops trusting every live entry read until now: called when a revocation may not have
   * reached the cache (it was unreachable, it reconnected, a change notification was missed).
   */
  distrustLive(): void;
}

/** How long a forgotten session's marker outlives the forget: longer than any PostgreSQL read. */
export const FORGOTTEN_MARKER_MS = 60_000;

/** The moment before which live entries are distrusted; starts at creation (process start). */
export function createTrustClock(): {
  since(): number;
  distrust(): void;
} {
  let since = Date.now();
  return {
    since: () => since,
    distrust() {
      // Strictly later than any readAt taken before this call, even within one millisecond.
      since = Math.max(since, Date.now() + 1);
    },
  };
}
