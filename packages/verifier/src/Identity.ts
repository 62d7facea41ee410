/** What every verified credential says, whoever it stands for. */
interface IdentityBase {
  /**
   * Roles: for an access token, its `roles` claim (as of issue); for an API key, the key's
   * roles its owner holds now (from ValidateToken).
   */
  roles: readonly string[];
  /** How the caller presented itself: a JWT verified locally, or an API key. */
  credential: 'access_token' | 'api_key';
  /** The token's `jti`; null for an API key. */
  tokenId: string | null;
  /** `iat`; null for an API key. */
  issuedAt: Date | null;
  /** `exp`; for an API key its expiry if it has one, else null. */
  expiresAt: Date | null;
  /**
   * Effective permission names as Gatehouse computed them (ValidateToken, for API keys); null for
   * access tokens verified locally (they carry roles, not permissions).
   */
  permissions: readonly string[] | null;
}

/** A user's session (an access token from Login, Refresh, ...). */
export interface UserIdentity extends IdentityBase {
  kind: 'user';
  userId: string;
  sessionId: string;
  /** The session's active organisation (`org_id`, `org_roles`), or null. */
  organization: { id: string; roles: readonly string[] } | null;
  /** How the user authenticated (`amr`, RFC 8176 names); [] for older tokens. */
  amr: readonly string[];
  /** When the user authenticated (`auth_time`); null for older tokens. */
  authTime: Date | null;
}

/** A service account: its API key, or an access token ExchangeApiKey minted from one. */
export interface ServiceAccountIdentity extends IdentityBase {
  kind: 'service_account';
  serviceAccountId: string;
  apiKeyId: string;
}

/** A user's own API key, or an access token ExchangeApiKey minted from one. */
export interface UserApiKeyIdentity extends IdentityBase {
  kind: 'user_api_key';
  userId: string;
  apiKeyId: string;
}

/** Who a verified credential stands for; switch on `kind`. Frozen: share it, do not mutate it. */
export type Identity = UserIdentity | ServiceAccountIdentity | UserApiKeyIdentity;
