/** What ValidateToken needs to know about a session without asking PostgreSQL. */
export type CachedSession =
  | { state: 'live'; userId: string; roles: string[] }
  | { state: 'revoked' };

/**
 * The hot-path view of session state. PostgreSQL stays the source of truth: a miss (or an
 * unreachable cache) is answered by reading through to it, so a flush revives nothing.
 */
export interface SessionCache {
  /** The cached state, or null on a miss. Throws when the cache is unreachable. */
  get(sessionId: string): Promise<CachedSession | null>;
  /**
   * Caches state read from PostgreSQL for `ttlMs`, unless an entry exists: a read-through that
   * raced with a revocation must never overwrite the revoked marker with a stale "live".
   */
  fill(sessionId: string, value: CachedSession, ttlMs: number): Promise<void>;
  /** Marks sessions revoked for `ttlMs` (at least the remaining access-token lifetime). */
  markRevoked(sessionIds: readonly string[], ttlMs: number): Promise<void>;
  /** Forgets sessions so the next lookup reads through (roles or status changed). */
  forget(sessionIds: readonly string[]): Promise<void>;
}
