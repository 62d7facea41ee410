import { classifyCredential } from '../apiKeys/legacyApiKeySecret.ts';
import type { User } from '../domain/User.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { findUserById } from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { type AcceptedInvitation, acceptInvitation } from './acceptInvitation.ts';
import { authenticateApiKey } from './authenticateApiKey.ts';
import { changePassword } from './changePassword.ts';
import type { SecondFactorProof } from './checkSecondFactor.ts';
import { type CompleteMfaLoginInput, completeMfaLogin } from './completeMfaLogin.ts';
import { type ExchangedToken, exchangeApiKey } from './exchangeApiKey.ts';
import type { IssuedAccessToken } from './issueSession.ts';
import { listMyOrganizations } from './listMyOrganizations.ts';
import { login } from './login.ts';
import { logout } from './logout.ts';
import { asUserPrincipal, type Principal } from './Principal.ts';
import {
  finishPasskeyLogin,
  startPasskeyLogin,
  startReauthenticationPasskey,
} from './passkeyLogin.ts';
import {
  deletePasskey,
  finishPasskeyRegistration,
  listPasskeys,
  renamePasskey,
  startPasskeyRegistration,
} from './passkeys.ts';
import {
  type Reauthenticated,
  type ReauthenticateInput,
  reauthenticate,
} from './reauthenticate.ts';
import { refresh } from './refresh.ts';
import { register } from './register.ts';
import { requestEmailVerification } from './requestEmailVerification.ts';
import { requestPasswordReset } from './requestPasswordReset.ts';
import { resetPassword } from './resetPassword.ts';
import {
  type AuthFactors,
  confirmTotpEnrollment,
  disableTotp,
  listAuthFactors,
  regenerateRecoveryCodes,
  startTotpEnrollment,
} from './secondFactors.ts';
import { listSessions, revokeOtherSessions, revokeSession } from './sessions.ts';
import { startMfaPasskey } from './startMfaPasskey.ts';
import { switchOrganization } from './switchOrganization.ts';
import { validateAccessToken } from './validateAccessToken.ts';
import { type ValidatedToken, validateToken } from './validateToken.ts';
import { verifyEmail } from './verifyEmail.ts';

/** The AuthService use cases bound to their dependencies. */
export interface AuthService {
  /**
   * The principal of a bearer credential (an access token whose session is live, or a live API
   * key or a token minted from one), or null (the request path's).
   */
  authenticate(token: string, info: RequestInfo): Promise<Principal | null>;
  /** ValidateToken: what an access token or API key stands for and may do now, or null. */
  validate: (token: string, info: RequestInfo) => Promise<ValidatedToken | null>;
  /** ExchangeApiKey: a short-lived access token for the caller's API key. */
  exchangeApiKey: (principal: Principal, info: RequestInfo) => Promise<ExchangedToken>;
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
  /** SwitchOrganization: the calling session's active organisation, and a token for it. */
  switchOrganization: (
    principal: Principal,
    organizationId: string,
    info: RequestInfo,
  ) => Promise<IssuedAccessToken>;
  /** ListMyOrganizations: the caller's memberships in active organisations. */
  listMyOrganizations: (principal: Principal) => ReturnType<typeof listMyOrganizations>;
  /** CompleteMfaLogin: the second step of a Login that answered mfa_required. */
  completeMfaLogin: (
    input: CompleteMfaLoginInput,
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof completeMfaLogin>;
  /** StartTotpEnrollment: a new pending TOTP secret and its otpauth:// URI. */
  startTotpEnrollment: (
    principal: Principal,
    info: RequestInfo,
  ) => ReturnType<typeof startTotpEnrollment>;
  /** ConfirmTotpEnrollment: activates the pending authenticator; new recovery codes. */
  confirmTotpEnrollment: (
    principal: Principal,
    code: string,
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof confirmTotpEnrollment>;
  /** DisableTotp: removes the authenticator and the recovery codes. */
  /** Reauthenticate: the session proven again; a fresh access token with the new auth_time. */
  reauthenticate: (
    principal: Principal,
    input: ReauthenticateInput,
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => Promise<Reauthenticated>;
  /** StartReauthenticationPasskey: request options for a passkey as Reauthenticate's factor. */
  startReauthenticationPasskey: (
    principal: Principal,
    info: RequestInfo,
  ) => ReturnType<typeof startReauthenticationPasskey>;
  disableTotp: (
    principal: Principal,
    proof: SecondFactorProof,
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => Promise<void>;
  /** RegenerateRecoveryCodes: a new set; the old one is void. */
  regenerateRecoveryCodes: (
    principal: Principal,
    proof: SecondFactorProof,
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof regenerateRecoveryCodes>;
  /** ListAuthFactors: what the caller has enrolled, never secrets. */
  listAuthFactors: (principal: Principal) => Promise<AuthFactors>;
  /** StartPasskeyRegistration: creation options for a new passkey of the caller. */
  startPasskeyRegistration: (
    principal: Principal,
    info: RequestInfo,
  ) => ReturnType<typeof startPasskeyRegistration>;
  /** FinishPasskeyRegistration: verifies and stores the new passkey. */
  finishPasskeyRegistration: (
    principal: Principal,
    input: Parameters<typeof finishPasskeyRegistration>[2],
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof finishPasskeyRegistration>;
  /** ListPasskeys: the caller's passkeys. */
  listPasskeys: (principal: Principal) => ReturnType<typeof listPasskeys>;
  /** RenamePasskey: a new name for one of the caller's passkeys. */
  renamePasskey: (
    principal: Principal,
    input: Parameters<typeof renamePasskey>[2],
    info: RequestInfo,
  ) => ReturnType<typeof renamePasskey>;
  /** DeletePasskey: removes one of the caller's passkeys. */
  deletePasskey: (principal: Principal, passkeyId: string, info: RequestInfo) => Promise<void>;
  /** StartPasskeyLogin: request options and a challenge id for a passwordless sign-in. */
  startPasskeyLogin: (
    identifier: string | undefined,
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof startPasskeyLogin>;
  /** FinishPasskeyLogin: a session for the passkey's account. */
  finishPasskeyLogin: (
    input: Parameters<typeof finishPasskeyLogin>[1],
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof finishPasskeyLogin>;
  /** StartMfaPasskey: request options for a passkey as the second step of a Login. */
  startMfaPasskey: (
    challengeToken: string,
    info: RequestInfo,
    admitAccount: AdmitAccount,
  ) => ReturnType<typeof startMfaPasskey>;
  /** AcceptInvitation: joins the invitation's organisation and makes it the session's. */
  acceptInvitation: (
    principal: Principal,
    token: string,
    info: RequestInfo,
  ) => Promise<AcceptedInvitation>;
}

/** Binds every AuthService use case to the dependencies the composition root built. */
export function createAuthService(deps: AuthDeps): AuthService {
  return {
    async authenticate(token, info) {
      if (classifyCredential(token) === 'access_token') {
        const v = await validateAccessToken(deps, token);
        if (v !== null) {
          return { kind: 'user', userId: v.userId, sessionId: v.sessionId, roles: v.roles };
        }
      }
      return (await authenticateApiKey(deps, token, info))?.principal ?? null;
    },
    validate: (token, info) => validateToken(deps, token, info),
    exchangeApiKey: (principal, info) => exchangeApiKey(deps, principal, info),
    jwks: () => deps.keys.jwks().json,
    register: (input, info, admitAccount) => register(deps, input, info, admitAccount),
    login: (input, info, admitAccount) => login(deps, input, info, admitAccount),
    refresh: (token, info, admitAccount) => refresh(deps, token, info, admitAccount),
    logout: (input, info) => logout(deps, input, info),
    async currentUser(principal) {
      const account = await findUserById(deps.pool, asUserPrincipal(principal).userId);
      if (!account) throw invalidAccessToken();
      return account.user;
    },
    listSessions: (principal, page) => listSessions(deps, asUserPrincipal(principal), page),
    revokeSession: (principal, sessionId, info) =>
      revokeSession(deps, asUserPrincipal(principal), sessionId, info),
    revokeOtherSessions: (principal, info) =>
      revokeOtherSessions(deps, asUserPrincipal(principal), info),
    changePassword: (principal, input, info, admitAccount) =>
      changePassword(deps, asUserPrincipal(principal), input, info, admitAccount),
    requestPasswordReset: (email, info, admitAccount) =>
      requestPasswordReset(deps, { email }, info, admitAccount),
    resetPassword: (input, info) => resetPassword(deps, input, info),
    requestEmailVerification: (principal, info, admitAccount) =>
      requestEmailVerification(deps, asUserPrincipal(principal), info, admitAccount),
    verifyEmail: (token, info) => verifyEmail(deps, { token }, info),
    switchOrganization: (principal, organizationId, info) =>
      switchOrganization(deps, asUserPrincipal(principal), organizationId, info),
    listMyOrganizations(principal) {
      if (principal.kind === 'service_account') {
        throw new Error('a service account reached a call for users');
      }
      return listMyOrganizations(deps.pool, principal.userId);
    },
    acceptInvitation: (principal, token, info) =>
      acceptInvitation(deps, asUserPrincipal(principal), token, info),
    completeMfaLogin: (input, info, admitAccount) =>
      completeMfaLogin(deps, input, info, admitAccount),
    startTotpEnrollment: (principal, info) =>
      startTotpEnrollment(deps, asUserPrincipal(principal), info),
    confirmTotpEnrollment: (principal, code, info, admitAccount) =>
      confirmTotpEnrollment(deps, asUserPrincipal(principal), code, info, admitAccount),
    reauthenticate: (principal, input, info, admitAccount) =>
      reauthenticate(deps, asUserPrincipal(principal), input, info, admitAccount),
    startReauthenticationPasskey: (principal, info) =>
      startReauthenticationPasskey(deps, asUserPrincipal(principal), info),
    disableTotp: (principal, proof, info, admitAccount) =>
      disableTotp(deps, asUserPrincipal(principal), proof, info, admitAccount),
    regenerateRecoveryCodes: (principal, proof, info, admitAccount) =>
      regenerateRecoveryCodes(deps, asUserPrincipal(principal), proof, info, admitAccount),
    listAuthFactors: (principal) => listAuthFactors(deps, asUserPrincipal(principal)),
    startPasskeyRegistration: (principal, info) =>
      startPasskeyRegistration(deps, asUserPrincipal(principal), info),
    finishPasskeyRegistration: (principal, input, info, admitAccount) =>
      finishPasskeyRegistration(deps, asUserPrincipal(principal), input, info, admitAccount),
    listPasskeys: (principal) => listPasskeys(deps, asUserPrincipal(principal)),
    renamePasskey: (principal, input, info) =>
      renamePasskey(deps, asUserPrincipal(principal), input, info),
    deletePasskey: (principal, passkeyId, info) =>
      deletePasskey(deps, asUserPrincipal(principal), passkeyId, info),
    startPasskeyLogin: (identifier, info, admitAccount) =>
      startPasskeyLogin(deps, identifier, info, admitAccount),
    finishPasskeyLogin: (input, info, admitAccount) =>
      finishPasskeyLogin(deps, input, info, admitAccount),
    startMfaPasskey: (challengeToken, info, admitAccount) =>
      startMfaPasskey(deps, challengeToken, info, admitAccount),
  };
}
