import type { FactorPresence } from '../auth/createFactorPresenceCache.ts';
import type { PasswordHasher } from '../auth/createPasswordHasher.ts';
import type { PasswordPolicy } from '../auth/passwordPolicy.ts';
import type { ApiKeyLimits } from '../config/apiKeyConfig.ts';
import type { PageTokens } from '../paging/createPageTokens.ts';
import type { RevocationDeps } from '../sessions/updateSessionCache.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';

/**
 * What the admin use cases need, a part of what the composition root builds for auth. State
 * changes write through the call's AuditScope; revocations and role changes reach the session
 * cache (RevocationDeps). Each use case takes only the part it touches.
 */
export interface AdminDeps extends RevocationDeps {
  /** Reads outside an audited call's transaction: GetUser and the lists. */
  pool: DatabasePool;
  /** Signed keyset page tokens of ListUsers, ListUserSessions and ListAuditEvents. */
  pageTokens: PageTokens;
  /** Hashes initial passwords, checks imported hashes, names a stored hash's algorithm. */
  hasher: PasswordHasher;
  /** The rules CreateUser's initial password must pass. */
  policy: PasswordPolicy;
  /** Maximum lifetimes of new keys, live keys per user (API_KEY_MAX_*). */
  apiKeyLimits: ApiKeyLimits;
  /** Who has a second factor (cached); ResetUserMfa makes it forget the user. */
  mfa: { factors: FactorPresence };
}
