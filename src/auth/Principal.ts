/**
 * Who is calling, resolved once per call by the request path from the call's credential and
 * handed to use cases as a value: use cases never read metadata. A union by `kind`, so a new
 * kind of caller is a new member every `switch` must handle.
 */
export type Principal = UserPrincipal | ServiceAccountPrincipal | UserApiKeyPrincipal;

/** A user signed in with a live session (current roles, read with the session's state). */
export interface UserPrincipal {
  kind: 'user';
  userId: string;
  sessionId: string;
  roles: string[];
}

/**
 * What a machine principal presented: the key's secret itself, or an access token that
 * ExchangeApiKey minted from it (ExchangeApiKey accepts only the former).
 */
export type ApiKeyCredential = 'api_key' | 'access_token';

/** A service account calling with one of its API keys (roles: the key's ∩ the account's now). */
export interface ServiceAccountPrincipal {
  kind: 'service_account';
  serviceAccountId: string;
  apiKeyId: string;
  roles: string[];
  credential: ApiKeyCredential;
}

/** A user calling with one of their own API keys (roles: the key's ∩ the user's now). */
export interface UserApiKeyPrincipal {
  kind: 'user_api_key';
  userId: string;
  apiKeyId: string;
  roles: string[];
  credential: ApiKeyCredential;
}

/** The kinds of principal, as a call policy names them (`principal_kinds`). */
export type PrincipalKind = Principal['kind'];

/** A principal that authenticated with an API key (or a token minted from one). */
export type ApiKeyPrincipal = ServiceAccountPrincipal | UserApiKeyPrincipal;

/** Who acted, as audit rows record it: the user, or the service account, and the key used. */
export function auditActorOf(principal: Principal | undefined): {
  actor: string | null;
  actorServiceAccount: string | null;
  apiKey: string | null;
} {
  switch (principal?.kind) {
    case undefined:
      return { actor: null, actorServiceAccount: null, apiKey: null };
    case 'user':
      return { actor: principal.userId, actorServiceAccount: null, apiKey: null };
    case 'user_api_key':
      return { actor: principal.userId, actorServiceAccount: null, apiKey: principal.apiKeyId };
    case 'service_account':
      return {
        actor: null,
        actorServiceAccount: principal.serviceAccountId,
        apiKey: principal.apiKeyId,
      };
  }
}

/**
 * `principal` as the user with a session that a USER-only call policy guarantees; anything else
 * here is a policy bug (the policy let another kind through), not a client error.
 */
export function asUserPrincipal(principal: Principal): UserPrincipal {
  if (principal.kind !== 'user') {
    throw new Error(`a ${principal.kind} principal reached a call for users with a session`);
  }
  return principal;
}

/** The session of a caller that has one (for "current session" marks), else ''. */
export function sessionIdOf(principal: Principal): string {
  return principal.kind === 'user' ? principal.sessionId : '';
}
