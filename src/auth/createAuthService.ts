import type { RateLimits } from '../abuse/createRateLimits.ts';
import { createPageTokens } from '../admin/createPageTokens.ts';
import type { Config } from '../config.ts';
import { AppError } from '../errors/AppError.ts';
import type { KeyStore } from '../keys/createKeyStore.ts';
import type { Logger } from '../log.ts';
import { createAccountMail } from '../mail/createAccountMail.ts';
import type { SessionCache } from '../sessions/SessionCache.ts';
import { createAppSecretLoader } from '../storage/appSecrets.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { findUserById, type UserRow } from '../storage/users.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { type AuthEvents, noAuthEvents } from './AuthEvents.ts';
import { changePassword } from './changePassword.ts';
import { createPasswordHasher } from './createPasswordHasher.ts';
import { login } from './login.ts';
import { logout } from './logout.ts';
import type { Principal } from './Principal.ts';
import { createPasswordPolicy } from './passwordPolicy.ts';
import { refresh } from './refresh.ts';
import { register } from './register.ts';
import { requestEmailVerification } from './requestEmailVerification.ts';
import { requestPasswordReset } from './requestPasswordReset.ts';
import { resetPassword } from './resetPassword.ts';
import { listSessions, revokeOtherSessions, revokeSession } from './sessions.ts';
import { validateAccessToken } from './validateAccessToken.ts';
import { verifyEmail } from './verifyEmail.ts';

export type { RequestInfo };

/** The AuthService use cases bound to their dependencies. */
export interface AuthService {
  deps: AuthDeps;
  authenticate(token: string): Promise<Principal | null>;
  validate: (token: string) => ReturnType<typeof validateAccessToken>;
  register: (
    input: Parameters<typeof register>[1],
    info: RequestInfo,
  ) => ReturnType<typeof register>;
  login: (input: Parameters<typeof login>[1], info: RequestInfo) => ReturnType<typeof login>;
  refresh: (token: string, info: RequestInfo) => ReturnType<typeof refresh>;
  logout: (input: Parameters<typeof logout>[1], info: RequestInfo) => Promise<void>;
  currentUser(principal: Principal): Promise<UserRow>;
  listSessions: (
    principal: Principal,
    page: Parameters<typeof listSessions>[2],
  ) => ReturnType<typeof listSessions>;
  revokeSession: (principal: Principal, sessionId: string, info: RequestInfo) => Promise<void>;
  revokeOtherSessions: (principal: Principal, info: RequestInfo) => Promise<number>;
  changePassword: (
    principal: Principal,
    input: Parameters<typeof changePassword>[2],
    info: RequestInfo,
  ) => ReturnType<typeof changePassword>;
  requestPasswordReset: (email: string, info: RequestInfo) => Promise<void>;
  resetPassword: (input: Parameters<typeof resetPassword>[1], info: RequestInfo) => Promise<void>;
  requestEmailVerification: (principal: Principal, info: RequestInfo) => Promise<void>;
  verifyEmail: (token: string, info: RequestInfo) => Promise<UserRow>;
}

export interface AuthServiceDeps {
  pool: DatabasePool;
  keys: KeyStore;
  sessionCache: SessionCache;
  limits: RateLimits;
  /** Observability callbacks (metrics); defaults to none. */
  events?: AuthEvents;
  config: Config;
  log: Logger;
  /** Called after a message is committed to the outbox (wakes the local sender). */
  mailQueued?: () => void;
}

/**
 * Builds the password hasher (precomputing its dummy hash) and binds every use case. Page tokens
 * are signed with PAGE_TOKEN_SECRET, or else with a random secret kept in app_secrets (created by
 * the first instance that needs it), so every instance of one database accepts every other's
 * tokens; successor refresh tokens are derived under another such secret.
 */
export async function createAuthService(d: AuthServiceDeps): Promise<AuthService> {
  const events = d.events ?? noAuthEvents;
  const configuredPageKey = d.config.pageTokenSecret;
  const storedPageKey = createAppSecretLoader(d.pool, 'page_token');
  const pageKey = async () =>
    configuredPageKey === undefined ? storedPageKey() : Buffer.from(configuredPageKey, 'utf8');
  const deps: AuthDeps = {
    pool: d.pool,
    keys: d.keys,
    sessionCache: d.sessionCache,
    hasher: await createPasswordHasher(d.config.passwords.argon2, events.passwordHash),
    policy: createPasswordPolicy(d.config.passwords.minLength, d.config.passwords.maxLength),
    tokens: {
      accessTtlSec: d.config.tokens.accessTtlSec,
      clockSkewSec: d.config.tokens.clockSkewSec,
      sessionIdleSec: d.config.tokens.sessionIdleSec,
      sessionAbsoluteSec: d.config.tokens.sessionAbsoluteSec,
      reuseGraceSec: d.config.tokens.reuseGraceSec,
    },
    passwordMaxLength: d.config.passwords.maxLength,
    lockout: d.config.lockout,
    limits: d.limits,
    events,
    log: d.log,
    mail: createAccountMail(d.config.mail, d.mailQueued),
    requireVerifiedEmail: d.config.mail.requireVerifiedEmail,
    pageTokens: createPageTokens(pageKey),
    refreshSuccessorKey: createAppSecretLoader(d.pool, 'refresh_successor'),
  };
  return {
    deps,
    async authenticate(token) {
      const v = await validateAccessToken(deps, token);
      return v === null
        ? null
        : { kind: 'user', userId: v.userId, sessionId: v.sessionId, roles: v.roles };
    },
    validate: (token) => validateAccessToken(deps, token),
    register: (input, info) => register(deps, input, info),
    login: (input, info) => login(deps, input, info),
    refresh: (token, info) => refresh(deps, token, info),
    logout: (input, info) => logout(deps, input, info),
    async currentUser(principal) {
      const user = await findUserById(deps.pool, principal.userId);
      if (!user)
        throw new AppError('INVALID_ACCESS_TOKEN', 'the access token is invalid or expired');
      return user;
    },
    listSessions: (principal, page) => listSessions(deps, principal, page),
    revokeSession: (principal, sessionId, info) => revokeSession(deps, principal, sessionId, info),
    revokeOtherSessions: (principal, info) => revokeOtherSessions(deps, principal, info),
    changePassword: (principal, input, info) => changePassword(deps, principal, input, info),
    requestPasswordReset: (email, info) => requestPasswordReset(deps, { email }, info),
    resetPassword: (input, info) => resetPassword(deps, input, info),
    requestEmailVerification: (principal, info) => requestEmailVerification(deps, principal, info),
    verifyEmail: (token, info) => verifyEmail(deps, { token }, info),
  };
}
