import type { User } from '../domain/User.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { findUserById } from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { changePassword } from './changePassword.ts';
import { login } from './login.ts';
import { logout } from './logout.ts';
import type { Principal } from './Principal.ts';
import { refresh } from './refresh.ts';
import { register } from './register.ts';
import { requestEmailVerification } from './requestEmailVerification.ts';
import { requestPasswordReset } from './requestPasswordReset.ts';
import { resetPassword } from './resetPassword.ts';
import { listSessions, revokeOtherSessions, revokeSession } from './sessions.ts';
import { validateAccessToken } from './validateAccessToken.ts';
import { verifyEmail } from './verifyEmail.ts';

/** The AuthService use cases bound to their dependencies. */
export interface AuthService {
  /** The principal of a bearer token whose session is live, or null (the request path's). */
  authenticate(token: string): Promise<Principal | null>;
  validate: (token: string) => ReturnType<typeof validateAccessToken>;
  /** The public JSON Web Key Set (JSON text) access tokens verify against. */
  jwks(): string;
  register: (
    input: Parameters<typeof register>[1],
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof register>;
  login: (
    input: Parameters<typeof login>[1],
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof login>;
  refresh: (
    token: string,
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof refresh>;
  logout: (input: Parameters<typeof logout>[1], info: RequestInfo) => Promise<void>;
  currentUser(principal: Principal): Promise<User>;
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
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof changePassword>;
  requestPasswordReset: (
    email: string,
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => Promise<void>;
  resetPassword: (input: Parameters<typeof resetPassword>[1], info: RequestInfo) => Promise<void>;
  requestEmailVerification: (
    principal: Principal,
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => Promise<void>;
  verifyEmail: (token: string, info: RequestInfo) => Promise<User>;
}

/** Binds every AuthService use case to the dependencies the composition root built. */
export function createAuthService(deps: AuthDeps): AuthService {
  return {
    async authenticate(token) {
      const v = await validateAccessToken(deps, token);
      return v === null
        ? null
        : { kind: 'user', userId: v.userId, sessionId: v.sessionId, roles: v.roles };
    },
    validate: (token) => validateAccessToken(deps, token),
    jwks: () => deps.keys.jwks().json,
    register: (input, info, admitAccount) => register(deps, input, info, admitAccount),
    login: (input, info, admitAccount) => login(deps, input, info, admitAccount),
    refresh: (token, info, admitAccount) => refresh(deps, token, info, admitAccount),
    logout: (input, info) => logout(deps, input, info),
    async currentUser(principal) {
      const account = await findUserById(deps.pool, principal.userId);
      if (!account) throw invalidAccessToken();
      return account.user;
    },
    listSessions: (principal, page) => listSessions(deps, principal, page),
    revokeSession: (principal, sessionId, info) => revokeSession(deps, principal, sessionId, info),
    revokeOtherSessions: (principal, info) => revokeOtherSessions(deps, principal, info),
    changePassword: (principal, input, info, admitAccount) =>
      changePassword(deps, principal, input, info, admitAccount),
    requestPasswordReset: (email, info, admitAccount) =>
      requestPasswordReset(deps, { email }, info, admitAccount),
    resetPassword: (input, info) => resetPassword(deps, input, info),
    requestEmailVerification: (principal, info, admitAccount) =>
      requestEmailVerification(deps, principal, info, admitAccount),
    verifyEmail: (token, info) => verifyEmail(deps, { token }, info),
  };
}
