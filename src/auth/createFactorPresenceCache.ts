import { LRUCache } from 'lru-cache';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { hasConfirmedSecondFactor } from '../storage/secondFactors.ts';

/**
 * Whether a user has a confirmed second factor, as MFA_REQUIRED_ROLES asks on every call of a
 * holder of such a role: an in-process cache, so the hot path pays no query for it.
 */
export interface FactorPresence {
  /** Whether `userId` has a confirmed TOTP authenticator or a passkey (cached). */
  has(userId: string): Promise<boolean>;
  /** Drops the cached answer: call after every enrolment or removal of a factor. */
  forget(userId: string): void;
}

// How long an answer is served. This process forgets it at once on every change it makes; the
// TTL bounds how long another instance may serve the previous answer.
const PRESENCE_TTL_MS = 10_000;

/** The cache; only users holding a role of MFA_REQUIRED_ROLES are ever looked up. */
export function createFactorPresenceCache(pool: DatabasePool, max = 10_000): FactorPresence {
  const entries = new LRUCache<string, Promise<boolean>>({ max, ttl: PRESENCE_TTL_MS });
  return {
    has(userId) {
      const cached = entries.get(userId);
      if (cached !== undefined) return cached;
      const lookup = hasConfirmedSecondFactor(pool, userId);
      entries.set(userId, lookup);
      // A failed lookup is not an answer: the next call asks again.
      lookup.catch(() => {
        if (entries.get(userId) === lookup) entries.delete(userId);
      });
      return lookup;
    },
    forget(userId) {
      entries.delete(userId);
    },
  };
}

/** MFA_REQUIRED_ROLES and who has a second factor: when a user must enrol one. */
export interface MfaEnrollmentRule {
  /** MFA_REQUIRED_ROLES; empty for none. */
  requiredRoles: readonly string[];
  factors: FactorPresence;
}

/**
 * Whether a user with `roles` must enrol: holds a role of MFA_REQUIRED_ROLES and has no
 * confirmed second factor. A user without such a role costs one array check, no lookup.
 */
export async function mustEnrol(
  rule: MfaEnrollmentRule,
  userId: string,
  roles: readonly string[],
): Promise<boolean> {
  if (!roles.some((r) => rule.requiredRoles.includes(r))) return false;
  return !(await rule.factors.has(userId));
}
