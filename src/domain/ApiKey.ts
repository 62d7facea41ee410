/** Who an API key belongs to: a user or a service account (exactly one). */
export type ApiKeyOwner = { kind: 'user'; id: string } | { kind: 'service_account'; id: string };

/**
 * An API key as use cases and clients see it. It never holds the secret or its hash: the secret
 * is returned once, by the call that creates it, and only its display prefix is kept.
 */
export interface ApiKey {
  id: string;
  owner: ApiKeyOwner;
  displayName: string;
  /** The roles the key asks for; it acts with these ∩ its owner's roles at the time of a call. */
  roles: string[];
  /** The first characters of its newest secret ("ghk_3fA9"), for people to tell keys apart. */
  displayPrefix: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** Updated at most once a minute, so up to a minute behind. */
  lastUsedAt: Date | null;
}

/** A key that was just created, with its secret: shown to the caller once, never again. */
export interface CreatedApiKey {
  apiKey: ApiKey;
  secret: string;
}

/**
 * What the hot path needs to know about the key behind a secret, read in one query: the key,
 * the secret's own expiry (rotation overlap), and its owner's status and roles NOW.
 */
export interface ApiKeyState {
  apiKeyId: string;
  owner: ApiKeyOwner;
  /** Roles the key asks for. */
  keyRoles: string[];
  /** The owner's roles as stored now. */
  ownerRoles: string[];
  ownerStatus: 'active' | 'disabled' | 'deleted';
  keyExpiresAt: Date | null;
  secretExpiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

/** The roles a key acts with: those it asks for that its owner holds now. */
export function effectiveApiKeyRoles(
  state: Pick<ApiKeyState, 'keyRoles' | 'ownerRoles'>,
): string[] {
  const held = new Set(state.ownerRoles);
  return state.keyRoles.filter((r) => held.has(r));
}

/** Whether a key in `state` may be used at `now`: live key, live secret, active owner. */
export function isApiKeyUsable(state: ApiKeyState, now: number = Date.now()): boolean {
  return (
    state.ownerStatus === 'active' &&
    state.revokedAt === null &&
    (state.keyExpiresAt === null || state.keyExpiresAt.getTime() > now) &&
    (state.secretExpiresAt === null || state.secretExpiresAt.getTime() > now)
  );
}
