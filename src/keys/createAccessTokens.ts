import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import type { SigningKeyRing } from './createSigningKeyRing.ts';

export interface AccessTokenInput {
  userId: string;
  sessionId: string;
  roles: readonly string[];
}

export interface IssuedAccessToken {
  token: string;
  tokenId: string;
  expiresAt: Date;
}

export interface VerifiedAccessToken {
  userId: string;
  sessionId: string;
  roles: string[];
  tokenId: string;
  issuedAt: Date;
  expiresAt: Date;
  issuer: string;
  audience: string[];
}

export interface AccessTokens {
  /** Signs an RFC 9068 access token with the active key. */
  sign(input: AccessTokenInput): Promise<IssuedAccessToken>;
  /** Verifies signature, algorithm, issuer, audience, typ and expiry; null when invalid. */
  verify(token: string): Promise<VerifiedAccessToken | null>;
}

export interface AccessTokenOptions {
  issuer: string;
  audience: string;
  accessTtlSec: number;
  clockSkewSec: number;
}

// Header parameters that would let a token choose its own verification key; never honoured.
const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c', 'crit'];
const SUBJECT = /^[0-9a-f-]{36}$/;
const VERIFIED_CACHE_SIZE = 50_000;
const MAX_TOKEN_LENGTH = 8192;

interface Verified {
  claims: VerifiedAccessToken;
  kid: string;
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
  // so only the exact verified bytes hit; bounded, least recently used evicted first.
  const verified = new LRUCache<string, Verified>({ max: VERIFIED_CACHE_SIZE });

  /** Full verification: header checks, signature, algorithm, iss, aud, typ, exp, claim shapes. */
  async function verifyUncached(token: string): Promise<Verified | null> {
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
      ({ payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [key.algorithm],
        issuer: options.issuer,
        audience: options.audience,
        typ: 'at+jwt',
        clockTolerance: options.clockSkewSec,
        requiredClaims: ['sub', 'jti', 'exp', 'iat', 'sid'],
      }));
    } catch {
      return null;
    }
    const { sub, sid, roles, jti, iat, exp, iss, aud } = payload as JWTPayload & {
      sid?: unknown;
      roles?: unknown;
    };
    if (
      typeof sub !== 'string' ||
      !SUBJECT.test(sub) ||
      typeof sid !== 'string' ||
      !SUBJECT.test(sid) ||
      !Array.isArray(roles) ||
      !roles.every((r) => typeof r === 'string')
    ) {
      return null;
    }
    return {
      kid: key.kid,
      claims: {
        userId: sub,
        sessionId: sid,
        roles: roles as string[],
        tokenId: String(jti),
        issuedAt: new Date(Number(iat) * 1000),
        expiresAt: new Date(Number(exp) * 1000),
        issuer: String(iss),
        audience: Array.isArray(aud) ? aud : [String(aud)],
      },
    };
  }

  return {
    async sign(input) {
      const active = ring.activeKey();
      if (!active) throw new Error('no active signing key');
      const tokenId = randomUUID();
      const now = Math.floor(Date.now() / 1000);
      const exp = now + options.accessTtlSec;
      const token = await new SignJWT({ sid: input.sessionId, roles: [...input.roles] })
        .setProtectedHeader({ alg: active.algorithm, kid: active.kid, typ: 'at+jwt' })
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setSubject(input.userId)
        .setJti(tokenId)
        .setIssuedAt(now)
        .setExpirationTime(exp)
        .sign(active.privateKey);
      return { token, tokenId, expiresAt: new Date(exp * 1000) };
    },
    async verify(token) {
      if (token.length > MAX_TOKEN_LENGTH) return null;
      const hit = verified.get(token);
      if (hit !== undefined) {
        // Served only while unexpired and while its key is still published.
        if (
          hit.claims.expiresAt.getTime() + options.clockSkewSec * 1000 > Date.now() &&
          ring.publishedKey(hit.kid) !== undefined
        ) {
          return hit.claims;
        }
        verified.delete(token);
      }
      const result = await verifyUncached(token);
      if (result === null) return null;
      verified.set(token, result);
      return result.claims;
    },
  };
}
