import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  decodeProtectedHeader,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { Logger } from '../log.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import {
  findPublishedSigningKeys,
  insertSigningKeyIfNoneActive,
  rotateSigningKey,
} from '../storage/signingKeys.ts';
import {
  generateSigningKey,
  type SigningAlgorithm,
  signingKeyFromPem,
} from './generateSigningKey.ts';

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

export interface KeyStore {
  /** Loads keys, creating (or importing) the first signing key if there is none. */
  start(): Promise<void>;
  /** Stops polling; resolves once a reload in flight has finished. */
  stop(): Promise<void>;
  /** Signs an RFC 9068 access token with the active key. */
  sign(input: AccessTokenInput): Promise<IssuedAccessToken>;
  /** Verifies signature, algorithm, issuer, audience, typ and expiry; null when invalid. */
  verify(token: string): Promise<VerifiedAccessToken | null>;
  /** The published JWKS (public members only) as JSON, and its ETag. */
  jwks(): { json: string; etag: string };
}

export interface KeyStoreOptions {
  issuer: string;
  audience: string;
  algorithm: SigningAlgorithm;
  accessTtlSec: number;
  clockSkewSec: number;
  refreshSec: number;
  privateKeyFile: string | undefined;
}

interface LoadedKey {
  kid: string;
  algorithm: SigningAlgorithm;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

// Header parameters that would let a token choose its own verification key; never honoured.
const FORBIDDEN_HEADERS = ['jku', 'jwk', 'x5u', 'x5c', 'crit'];
const SUBJECT = /^[0-9a-f-]{36}$/;
const VERIFIED_CACHE_SIZE = 50_000;

/**
 * Signing keys shared through PostgreSQL: every instance polls the table, so `scripts/run keys
 * rotate` reaches all of them without a restart, and retired keys stay published until the last
 * token they signed has expired. Verification never fetches anything: unknown kids are invalid.
 */
export function createKeyStore(
  pool: DatabasePool,
  options: KeyStoreOptions,
  log: Logger,
): KeyStore {
  let published = new Map<string, LoadedKey>();
  let active: { kid: string; algorithm: SigningAlgorithm; privateKey: CryptoKey } | undefined;
  let jwksJson = '{"keys":[]}';
  let etag = '';
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;
  // Tokens that passed full verification, until they expire: repeated validations of one token
  // (the common case for a resource server) skip the signature check. Keyed by the whole token,
  // so only the exact verified bytes hit; bounded, oldest evicted first.
  const verified = new Map<string, { claims: VerifiedAccessToken; kid: string }>();

  async function reload(): Promise<void> {
    const rows = await findPublishedSigningKeys(pool);
    const next = new Map<string, LoadedKey>();
    let nextActive: typeof active;
    for (const row of rows) {
      const algorithm = row.algorithm as SigningAlgorithm;
      const known = published.get(row.kid);
      const publicJwk = row.public_jwk as JWK;
      const publicKey = known?.publicKey ?? ((await importJWK(publicJwk, algorithm)) as CryptoKey);
      next.set(row.kid, { kid: row.kid, algorithm, publicKey, publicJwk });
      if (row.retired_at === null) {
        nextActive =
          active?.kid === row.kid
            ? active
            : {
                kid: row.kid,
                algorithm,
                privateKey: (await importJWK(row.private_jwk as JWK, algorithm)) as CryptoKey,
              };
      }
    }
    if (active !== undefined && nextActive?.kid !== active.kid) {
      // A rotation (keys CLI, another instance, JWT_PRIVATE_KEY_FILE) reaches this instance.
      log.info(
        { kid: nextActive?.kid, algorithm: nextActive?.algorithm, previousKid: active.kid },
        nextActive
          ? 'signing key rotated: new access tokens are signed with the new key'
          : 'no active signing key any more',
      );
    }
    for (const kid of published.keys()) {
      if (!next.has(kid)) log.info({ kid }, 'retired signing key no longer published in the JWKS');
    }
    published = next;
    active = nextActive;
    const keys = [...next.values()].map((k) => k.publicJwk);
    jwksJson = JSON.stringify({ keys });
    etag = `"${keys.map((k) => k.kid).join('.')}"`;
  }

  async function ensureActiveKey(): Promise<void> {
    if (options.privateKeyFile !== undefined) {
      const key = await signingKeyFromPem(
        await readFile(options.privateKeyFile, 'utf8'),
        options.algorithm,
      );
      if (active?.kid !== key.kid) {
        await rotateSigningKey(pool, key, (options.accessTtlSec + options.clockSkewSec) * 1000);
        log.info({ kid: key.kid }, 'configured signing key is now active');
      }
      return;
    }
    if (active) return;
    const key = await generateSigningKey(options.algorithm);
    if (await insertSigningKeyIfNoneActive(pool, key)) {
      log.info({ kid: key.kid, algorithm: key.algorithm }, 'generated the first signing key');
    }
  }

  /** Full verification: header checks, signature, algorithm, iss, aud, typ, exp, claim shapes. */
  async function verifyUncached(
    token: string,
  ): Promise<{ claims: VerifiedAccessToken; kid: string } | null> {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (FORBIDDEN_HEADERS.some((h) => h in header)) return null;
      kid = header.kid;
    } catch {
      return null;
    }
    const key = kid === undefined ? undefined : published.get(kid);
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
    async start() {
      await reload();
      await ensureActiveKey();
      await reload();
      timer = setInterval(() => {
        polling ??= reload()
          .catch((err: unknown) => log.warn({ err }, 'could not refresh signing keys'))
          .finally(() => {
            polling = undefined;
          });
      }, options.refreshSec * 1000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await polling;
    },
    async sign(input) {
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
      if (token.length > 8192) return null;
      const hit = verified.get(token);
      if (hit !== undefined) {
        if (
          hit.claims.expiresAt.getTime() + options.clockSkewSec * 1000 > Date.now() &&
          published.has(hit.kid)
        ) {
          return hit.claims;
        }
        verified.delete(token);
      }
      const result = await verifyUncached(token);
      if (result === null) return null;
      if (verified.size >= VERIFIED_CACHE_SIZE) {
        const oldest = verified.keys().next().value;
        if (oldest !== undefined) verified.delete(oldest);
      }
      verified.set(token, result);
      return result.claims;
    },
    jwks() {
      return { json: jwksJson, etag };
    },
  };
}
