import { KeyObject, randomUUID } from 'node:crypto';
import { createVerifier } from 'fast-jwt';
import { decodeProtectedHeader, type JWTPayload, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import type { PublishedSigningKey, SigningKeyRing } from './createSigningKeyRing.ts';

export interface AccessTokenInput {
  userId: string;
  sessionId: string;
  roles: readonly string[];
  /** The session's active organisation and the membership's role names; null for none. */
  organization: TokenOrganization | null;
  /** How the session was authenticated (RFC 8176 names): the `amr` claim. */
  amr: readonly string[];
  /** When the user authenticated: the `auth_time` claim (seconds). */
  authTime: Date;
}

/** What a session's token says about its active organisation: claims `org_id`, `org_roles`. */
export interface TokenOrganization {
  id: string;
  /** Organisation role names of the membership, as of issue. */
  roles: readonly string[];
}

export interface IssuedAccessToken {
  token: string;
  tokenId: string;
  expiresAt: Date;
}

/** The claims every verified access token has, whoever it was issued to. */
interface VerifiedTokenClaims {
  roles: string[];
  tokenId: string;
  issuedAt: Date;
  expiresAt: Date;
  issuer: string;
  audience: string[];
}

export interface VerifiedAccessToken extends VerifiedTokenClaims {
  userId: string;
  sessionId: string;
  /** The `org_id` and `org_roles` claims; null when the token has none. */
  organization: { id: string; roles: string[] } | null;
  /** The `amr` claim; [] for a token issued before sessions recorded it. */
  amr: string[];
  /** The `auth_time` claim; null for a token issued before sessions recorded it. */
  authTime: Date | null;
}

/** Who an access token minted from an API key (ExchangeApiKey) stands for. */
export interface ApiKeyTokenInput {
  principalType: 'service_account' | 'user_api_key';
  /** The service account's or the user's id: the token's `sub`. */
  subject: string;
  apiKeyId: string;
  roles: readonly string[];
  ttlSec: number;
}

/** The verified claims of an access token minted from an API key: no session, a key id. */
export interface VerifiedApiKeyToken extends VerifiedTokenClaims {
  principalType: 'service_account' | 'user_api_key';
  subject: string;
  apiKeyId: string;
}

export interface AccessTokens {
  /** Signs an RFC 9068 access token of a session with the active key. */
  sign(input: AccessTokenInput): Promise<IssuedAccessToken>;
  /**
   * Verifies a session's access token: signature, algorithm, issuer, audience, typ and expiry;
   * null when invalid, and for tokens minted from API keys (they have no session).
   */
  verify(token: string): Promise<VerifiedAccessToken | null>;
  /** Signs an access token for an API key's principal (no `sid`; `api_key_id` instead). */
  signApiKeyToken(input: ApiKeyTokenInput): Promise<IssuedAccessToken>;
  /** Verifies like `verify`, for tokens minted from API keys only (null for session tokens). */
  verifyApiKeyToken(token: string): Promise<VerifiedApiKeyToken | null>;
}

export interface AccessTokenOptions {
  issuer: string;
  audience: string;
  accessTtlSec: number;
  clockSkewSec: number;
  /** Bound of the verified-token cache in (estimated) bytes; DEFAULT_VERIFIED_CACHE_BYTES. */
  verifiedCacheMaxBytes?: number;
}

/** VERIFIED_TOKEN_CACHE_MAX_BYTES' default: 16 MiB, some 6,000 tokens. */
export const DEFAULT_VERIFIED_CACHE_BYTES = 16 * 1024 * 1024;

/**
 * Heap an entry of the verified-token cache takes beside its token (the key): the claims, the
 * dates and the cache's own node. Measured on Node 24 with session tokens: 2.5 KB per entry
 * for 533-character ES256 and 789-character RS256 tokens alike, so a fixed part dominates.
 */
const VERIFIED_ENTRY_OVERHEAD_BYTES = 2048;

// Header parameters that would let a token choose its own verification key; never honoured.
const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c', 'crit'];
const SUBJECT = /^[0-9a-f-]{36}$/;
const MAX_TOKEN_LENGTH = 8192;

type VerifiedClaims =
  | { kind: 'session'; claims: VerifiedAccessToken }
  | { kind: 'api_key'; claims: VerifiedApiKeyToken };

type Verified = VerifiedClaims & { kid: string };

const PRINCIPAL_TYPES = new Set(['service_account', 'user_api_key']);

/**
 * A session token's organisation claims: both `org_id` (a UUID) and `org_roles` (strings), or
 * neither (null); undefined for any other shape, which makes the token invalid.
 */
function sessionOrganization(payload: JWTPayload): VerifiedAccessToken['organization'] | undefined {
  const { org_id: id, org_roles: roles } = payload;
  if (id === undefined && roles === undefined) return null;
  if (
    typeof id !== 'string' ||
    !SUBJECT.test(id) ||
    !Array.isArray(roles) ||
    !roles.every((r) => typeof r === 'string')
  ) {
    return undefined;
  }
  return { id, roles: roles as string[] };
}

/**
 * A session token's `amr` (strings) and `auth_time` (seconds): both absent in tokens issued
 * before they existed; undefined for any other shape, which makes the token invalid.
 */
function sessionAuthentication(
  payload: JWTPayload,
): Pick<VerifiedAccessToken, 'amr' | 'authTime'> | undefined {
  const { amr, auth_time: authTime } = payload;
  if (amr !== undefined && (!Array.isArray(amr) || !amr.every((m) => typeof m === 'string'))) {
    return undefined;
  }
  if (authTime !== undefined && (typeof authTime !== 'number' || !Number.isFinite(authTime))) {
    return undefined;
  }
  return {
    amr: (amr as string[] | undefined) ?? [],
    authTime: authTime === undefined ? null : new Date(authTime * 1000),
  };
}

/**
 * RFC 9068 access tokens signed and verified with the keys of `ring`. Verification pins the
 * algorithm of the token's key, issuer, audience and typ, and never fetches anything: a kid the
 * ring does not publish is invalid, and so is any header naming its own key.
 */
export function createAccessTokens(
  ring: SigningKeyRing,
  options: AccessTokenOptions,
): AccessTokens {
  // Tokens that passed full verification, until they expire: repeated validations of one token
  // (the common case for a resource server) skip the signature check. Keyed by the whole token,
  // so only the exact verified bytes hit; bounded in bytes, least recently used evicted first.
  const verified = new LRUCache<string, Verified>({
    maxSize: options.verifiedCacheMaxBytes ?? DEFAULT_VERIFIED_CACHE_BYTES,
    sizeCalculation: (_, token) => token.length + VERIFIED_ENTRY_OVERHEAD_BYTES,
  });

  // One synchronous verifier per published key (fast-jwt on node:crypto), its algorithm pinned
  // to the key's. Measured on Node 24, RS256: 0.054 ms of CPU per verification one after the
  // other against 0.10-0.14 ms for jose's jwtVerify, whose every call is a WebCrypto job on the
  // libuv threadpool; with thousands in flight jose's jobs batch and cost about the same. It
  // also answers without a threadpool round trip (README, "Which algorithm").
  type VerifyJwt = (token: string) => JWTPayload;
  const verifiers = new WeakMap<CryptoKey, VerifyJwt>();
  function verifierOf(key: PublishedSigningKey): VerifyJwt {
    let verify = verifiers.get(key.publicKey);
    if (verify === undefined) {
      verify = createVerifier({
        key: KeyObject.from(key.publicKey).export({ type: 'spki', format: 'pem' }).toString(),
        algorithms: [key.algorithm],
        allowedIss: options.issuer,
        allowedAud: options.audience,
        checkTyp: 'at+jwt',
        clockTolerance: options.clockSkewSec * 1000,
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
        cache: false,
      }) as VerifyJwt;
      verifiers.set(key.publicKey, verify);
    }
    return verify;
  }

  /** Full verification: header checks, signature, algorithm, iss, aud, typ, exp, claim shapes. */
  function verifyUncached(token: string): Verified | null {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (FORBIDDEN_HEADERS.some((h) => h in header)) return null;
      kid = header.kid;
    } catch {
      return null;
    }
    const key = kid === undefined ? undefined : ring.publishedKey(kid);
    if (!key) return null;
    let payload: JWTPayload;
    try {
      payload = verifierOf(key)(token);
    } catch {
      return null;
    }
    const { sub, sid, roles, jti, iat, exp, iss, aud } = payload as JWTPayload & {
      sid?: unknown;
      roles?: unknown;
    };
    const apiKeyId = payload.api_key_id;
    const principalType = payload.principal_type;
    if (
      typeof sub !== 'string' ||
      !SUBJECT.test(sub) ||
      !Array.isArray(roles) ||
      !roles.every((r) => typeof r === 'string')
    ) {
      return null;
    }
    const common: VerifiedTokenClaims = {
      roles: roles as string[],
      tokenId: String(jti),
      issuedAt: new Date(Number(iat) * 1000),
      expiresAt: new Date(Number(exp) * 1000),
      issuer: String(iss),
      audience: Array.isArray(aud) ? aud : [String(aud)],
    };
    // Exactly one of the two shapes: a session's (sid) or an API key's (api_key_id + type).
    if (sid !== undefined) {
      if (typeof sid !== 'string' || !SUBJECT.test(sid) || apiKeyId !== undefined) return null;
      const organization = sessionOrganization(payload);
      const authentication = sessionAuthentication(payload);
      if (organization === undefined || authentication === undefined) return null;
      return {
        kid: key.kid,
        kind: 'session',
        claims: { userId: sub, sessionId: sid, organization, ...authentication, ...common },
      };
    }
    if (
      payload.org_id !== undefined ||
      payload.org_roles !== undefined ||
      payload.amr !== undefined ||
      payload.auth_time !== undefined
    ) {
      return null;
    }
    if (
      typeof apiKeyId !== 'string' ||
      !SUBJECT.test(apiKeyId) ||
      typeof principalType !== 'string' ||
      !PRINCIPAL_TYPES.has(principalType)
    ) {
      return null;
    }
    return {
      kid: key.kid,
      kind: 'api_key',
      claims: {
        principalType: principalType as VerifiedApiKeyToken['principalType'],
        subject: sub,
        apiKeyId,
        ...common,
      },
    };
  }

  /** Signs `claims` for `subject` with the active key, for `ttlSec`. */
  async function signClaims(
    claims: JWTPayload,
    subject: string,
    ttlSec: number,
  ): Promise<IssuedAccessToken> {
    const active = ring.activeKey();
    if (!active) throw new Error('no active signing key');
    const tokenId = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const exp = now + ttlSec;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: active.algorithm, kid: active.kid, typ: 'at+jwt' })
      .setIssuer(options.issuer)
      .setAudience(options.audience)
      .setSubject(subject)
      .setJti(tokenId)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(active.privateKey);
    return { token, tokenId, expiresAt: new Date(exp * 1000) };
  }

  /** Full verification, remembered for the token's lifetime (see `verified`). */
  async function verifyAny(token: string): Promise<VerifiedClaims | null> {
    if (token.length > MAX_TOKEN_LENGTH) return null;
    const hit = verified.get(token);
    if (hit !== undefined) {
      // Served only while unexpired and while its key is still published.
      if (
        hit.claims.expiresAt.getTime() + options.clockSkewSec * 1000 > Date.now() &&
        ring.publishedKey(hit.kid) !== undefined
      ) {
        return hit;
      }
      verified.delete(token);
    }
    const result = verifyUncached(token);
    if (result === null) return null;
    verified.set(token, result);
    return result;
  }

  return {
    sign: (input) =>
      signClaims(
        {
          sid: input.sessionId,
          roles: [...input.roles],
          ...(input.organization === null
            ? {}
            : { org_id: input.organization.id, org_roles: [...input.organization.roles] }),
          amr: [...input.amr],
          auth_time: Math.floor(input.authTime.getTime() / 1000),
        },
        input.userId,
        options.accessTtlSec,
      ),
    async verify(token) {
      const result = await verifyAny(token);
      return result?.kind === 'session' ? result.claims : null;
    },
    signApiKeyToken: (input) =>
      signClaims(
        {
          principal_type: input.principalType,
          api_key_id: input.apiKeyId,
          roles: [...input.roles],
        },
        input.subject,
        input.ttlSec,
      ),
    async verifyApiKeyToken(token) {
      const result = await verifyAny(token);
      return result?.kind === 'api_key' ? result.claims : null;
    },
  };
}
