import type { ApiKeyResolver } from '../apiKeys/createApiKeyResolver.ts';
import type { PermissionCache } from '../authz/createPermissionCache.ts';
import type { ApiKeyLimits } from '../config/apiKeyConfig.ts';
import type { KeyStore } from '../keys/createKeyStore.ts';
import type { Logger } from '../log.ts';
import type { AccountMail } from '../mail/createAccountMail.ts';
import type { PageTokens } from '../paging/createPageTokens.ts';
import type { SessionCache } from '../sessions/SessionCache.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import type { AuthEvents } from './AuthEvents.ts';
import type { FactorPresence } from './createFactorPresenceCache.ts';
import type { PasswordHasher } from './createPasswordHasher.ts';
import type { SecretBox } from './createSecretBox.ts';
import type { PasswordPolicy } from './passwordPolicy.ts';
import type { WebauthnSettings } from './webauthn.ts';

export interface TokenSettings {
  accessTtlSec: number;
  clockSkewSec: number;
  sessionIdleSec: number;
  sessionAbsoluteSec: number;
  reuseGraceSec: number;
}

/**
 * Everything the auth use cases need; built once in the composition root. Each use case takes
 * only the part it touches (a `Pick` of this, joined with `&` to the named needs of what it
 * calls, e.g. IssueSessionDeps), so its signature says what it reads and a caller builds no more.
 */
export interface AuthDeps {
  pool: DatabasePool;
  keys: KeyStore;
  sessionCache: SessionCache;
  /** API key state on the hot path (cached briefly, invalidated by the change feed). */
  apiKeys: ApiKeyResolver;
  /** Effective permissions per (principal, organisation) on the hot path (ValidateToken). */
  permissions: PermissionCache;
  /** Lifetime of the access tokens ExchangeApiKey mints. */
  apiKeyTokenTtlSec: number;
  /** Maximum lifetimes of new keys, live keys per user (API_KEY_MAX_*). */
  apiKeyLimits: ApiKeyLimits;
  /** The per-source credential budget that lookups of legacy API keys spend. */
  credentialBudget: CredentialBudget;
  hasher: PasswordHasher;
  policy: PasswordPolicy;
  tokens: TokenSettings;
  passwordMaxLength: number;
  /** Consecutive failures before a lock, and its duration (doubling per lockout, capped). */
  lockout: { threshold: number; baseSec: number; maxSec: number };
  events: AuthEvents;
  log: Logger;
  /** Password-reset and verification mail: lifetimes, templates, the outbox sender's nudge. */
  mail: AccountMail;
  /** REQUIRE_VERIFIED_EMAIL: Login of an unverified account fails like a wrong password. */
  requireVerifiedEmail: boolean;
  /** Signed keyset page tokens of every list RPC (sessions, and the admin lists). */
  pageTokens: PageTokens;
  /** The key successor refresh tokens are derived under (see deriveSuccessorRefreshToken). */
  refreshSuccessorKey: () => Promise<Buffer>;
  /** Second factors: the box TOTP secrets are sealed in, and the otpauth:// issuer. */
  mfa: MfaSettings;
  /** Passkeys: the relying party (WEBAUTHN_*) and the key of StartPasskeyLogin's decoys. */
  webauthn: WebauthnSettings;
}

export interface MfaSettings {
  /** Null when no key is available (production without MFA_ENCRYPTION_KEY): no enrolment. */
  secretBox: SecretBox | null;
  totpIssuer: string;
  /** REAUTHENTICATION_WINDOW_SEC: how recent an authentication the sensitive calls need. */
  reauthenticationWindowSec: number;
  /** MFA_REQUIRED_ROLES: holders must enrol a second factor. */
  requiredRoles: readonly string[];
  /** Who has a confirmed second factor (cached); forget a user on every factor change. */
  factors: FactorPresence;
}

/**
 * The per-source budget of credential attempts (the request path's rate limits): `spend`
 * throws RATE_LIMITED when it is used up; `refund` gives back a point that paid for an attempt
 * that succeeded.
 */
export interface CredentialBudget {
  spend(clientIp: string): Promise<void>;
  refund(clientIp: string): Promise<void>;
}

/** Who is asking, for sessions and audit rows. */
export interface RequestInfo {
  clientIp: string;
  userAgent: string;
  requestId: string;
}

/**
 * Spends the per-account budget the call's policy names (`account_budget`: 'login', ...) for
 * `account`, or throws RATE_LIMITED. Bound by the request path, so the budget's name lives only
 * in the contract and the use case says only which account the call is about.
 */
export type AdmitAccount = (account: string) => Promise<void>;
