import { decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from 'jose';
import type { TokenFacts } from './createDenyList.ts';
import type { KeySet } from './createKeySet.ts';
import type { Identity } from './Identity.ts';
import { VerifierError } from './VerifierError.ts';

/** A token whose signature and claims checked out, with what later checks need. */
export interface VerifiedToken {
  identity: Identity;
  facts: TokenFacts;
  kid: string;
  expiresAtMs: number;
}

export interface AccessTokenRules {
  issuer: string;
  audience: string;
  clockToleranceSec: number;
}

// Header parameters that would let a token choose its own verification key; never honoured.
const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c', 'crit'];
const ID = /^[0-9a-f-]{36}$/;
const PRINCIPAL_TYPES = new Set(['service_account', 'user_api_key']);

const invalid = (message: string) => new VerifierError('INVALID_TOKEN', message);
const isStrings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((s) => typeof s === 'string');

/** Deep-frozen: identities are cached and shared between callers. */
function freeze<T extends Identity>(identity: T): T {
  for (const value of Object.values(identity)) {
    if (Array.isArray(value)) Object.freeze(value);
    else if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      for (const inner of Object.values(value)) if (Array.isArray(inner)) Object.freeze(inner);
      Object.freeze(value);
    }
  }
  return Object.freeze(identity);
}

/**
 * The identity a verified payload stands for: a session's token (`sid`, optional `org_id` +
 * `org_roles`, `amr`, `auth_time`) or a token ExchangeApiKey minted (`api_key_id`,
 * `principal_type`), exactly the two shapes Gatehouse issues; anything else is invalid.
 */
function identityOf(payload: JWTPayload): { identity: Identity; facts: TokenFacts } {
  const { sub, jti, iat, exp } = payload;
  const { sid, roles, org_id, org_roles, amr, auth_time, api_key_id, principal_type } =
    payload as Record<string, unknown>;
  if (typeof sub !== 'string' || !ID.test(sub)) throw invalid('the token has no valid "sub"');
  if (!isStrings(roles)) throw invalid('the token has no valid "roles"');
  if (typeof iat !== 'number' || typeof exp !== 'number' || typeof jti !== 'string') {
    throw invalid('the token lacks "iat", "exp" or "jti"');
  }
  const common = {
    roles,
    credential: 'access_token' as const,
    tokenId: jti,
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    permissions: null,
  };
  if (sid !== undefined) {
    if (typeof sid !== 'string' || !ID.test(sid) || api_key_id !== undefined) {
      throw invalid('the token has an invalid "sid"');
    }
    let organization: { id: string; roles: string[] } | null = null;
    if (org_id !== undefined || org_roles !== undefined) {
      if (typeof org_id !== 'string' || !ID.test(org_id) || !isStrings(org_roles)) {
        throw invalid('the token has invalid "org_id"/"org_roles"');
      }
      organization = { id: org_id, roles: org_roles };
    }
    if (amr !== undefined && !isStrings(amr)) throw invalid('the token has an invalid "amr"');
    if (auth_time !== undefined && (typeof auth_time !== 'number' || !Number.isFinite(auth_time))) {
      throw invalid('the token has an invalid "auth_time"');
    }
    return {
      identity: freeze({
        kind: 'user',
        userId: sub,
        sessionId: sid,
        organization,
        amr: amr ?? [],
        authTime: auth_time === undefined ? null : new Date(auth_time * 1000),
        ...common,
      }),
      facts: {
        subject: sub,
        sessionId: sid,
        apiKeyId: null,
        organizationId: organization?.id ?? null,
        issuedAtSec: iat,
      },
    };
  }
  if (
    org_id !== undefined ||
    org_roles !== undefined ||
    amr !== undefined ||
    auth_time !== undefined ||
    typeof api_key_id !== 'string' ||
    !ID.test(api_key_id) ||
    typeof principal_type !== 'string' ||
    !PRINCIPAL_TYPES.has(principal_type)
  ) {
    throw invalid('the token is neither a session token nor an API key token');
  }
  const facts = { subject: sub, sessionId: null, apiKeyId: api_key_id, organizationId: null };
  const identity: Identity =
    principal_type === 'service_account'
      ? { kind: 'service_account', serviceAccountId: sub, apiKeyId: api_key_id, ...common }
      : { kind: 'user_api_key', userId: sub, apiKeyId: api_key_id, ...common };
  return { identity: freeze(identity), facts: { ...facts, issuedAtSec: iat } };
}

/**
 * Full local verification of a Gatehouse access token: header (no self-named keys, a `kid`
 * the JWKS publishes, refetched once if unknown), signature with the algorithm pinned to the
 * key's, `typ: at+jwt`, issuer, audience, exp/nbf within the clock tolerance, and the claim
 * shapes. Throws VerifierError.
 */
export async function verifyAccessToken(
  token: string,
  keys: KeySet,
  rules: AccessTokenRules,
): Promise<VerifiedToken> {
  let kid: unknown;
  try {
    const header = decodeProtectedHeader(token);
    if (FORBIDDEN_HEADERS.some((h) => h in header)) {
      throw invalid('the token names its own verification key');
    }
    kid = header.kid;
  } catch (error) {
    if (error instanceof VerifierError) throw error;
    throw invalid('the token is not a JWT');
  }
  if (typeof kid !== 'string' || kid === '') throw invalid('the token has no "kid"');
  const key = await keys.resolve(kid);
  if (key === undefined) {
    throw new VerifierError(
      'UNKNOWN_KEY',
      'the token is signed with a key Gatehouse does not publish',
    );
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key.key, {
      algorithms: [key.algorithm],
      issuer: rules.issuer,
      audience: rules.audience,
      typ: 'at+jwt',
      clockTolerance: rules.clockToleranceSec,
      requiredClaims: ['sub', 'jti', 'exp', 'iat'],
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) {
      throw new VerifierError('TOKEN_EXPIRED', 'the token has expired', { cause: error });
    }
    const what =
      error instanceof errors.JWTClaimValidationFailed
        ? `claim "${error.claim}" ${error.reason === 'check_failed' ? 'is not as expected' : 'is missing or invalid'}`
        : error instanceof errors.JOSEAlgNotAllowed
          ? "its algorithm is not the key's"
          : 'the signature or header does not verify';
    throw new VerifierError('INVALID_TOKEN', `the token is invalid: ${what}`, { cause: error });
  }
  const { identity, facts } = identityOf(payload);
  return { identity, facts, kid, expiresAtMs: (payload.exp as number) * 1000 };
}
