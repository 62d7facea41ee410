import { readFile } from 'node:fs/promises';
import { importJWK, type JWK } from 'jose';
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

/** A key tokens are verified with: one entry of the published JWKS. */
export interface PublishedSigningKey {
  kid: string;
  algorithm: SigningAlgorithm;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/** The one key new tokens are signed with. */
export interface ActiveSigningKey {
  kid: string;
  algorithm: SigningAlgorithm;
  privateKey: CryptoKey;
}

export interface SigningKeyRing {
  /** Loads keys, creating (or importing) the first signing key if there is none; starts polling. */
  start(): Promise<void>;
  /** Stops polling; resolves once a reload in flight has finished. */
  stop(): Promise<void>;
  /** The key to sign with now; undefined before start() or while no key is active. */
  activeKey(): ActiveSigningKey | undefined;
  /** A published key by kid; undefined for a kid this ring does not publish (never fetched). */
  publishedKey(kid: string): PublishedSigningKey | undefined;
  /** The published JWKS (public members only) as JSON, and its ETag. */
  jwks(): { json: string; etag: string };
}

export interface SigningKeyRingOptions {
  /** Algorithm of a generated (or configured) key. */
  algorithm: SigningAlgorithm;
  /** Access-token lifetime and clock skew: a rotated-out key stays published this long. */
  accessTtlSec: number;
  clockSkewSec: number;
  /** How often the table is polled for rotations made elsewhere. */
  refreshSec: number;
  /** JWT_PRIVATE_KEY_FILE: this key becomes the active one at start. */
  privateKeyFile: string | undefined;
}

/**
 * Signing keys shared through PostgreSQL: every instance polls the table, so `scripts/run keys
 * rotate` reaches all of them without a restart, and retired keys stay published until the last
 * token they signed has expired.
 */
export function createSigningKeyRing(
  pool: DatabasePool,
  options: SigningKeyRingOptions,
  log: Logger,
): SigningKeyRing {
  let published = new Map<string, PublishedSigningKey>();
  let active: ActiveSigningKey | undefined;
  let jwksJson = '{"keys":[]}';
  let etag = '';
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;

  async function reload(): Promise<void> {
    const rows = await findPublishedSigningKeys(pool);
    const next = new Map<string, PublishedSigningKey>();
    let nextActive: ActiveSigningKey | undefined;
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
    activeKey: () => active,
    publishedKey: (kid) => published.get(kid),
    jwks: () => ({ json: jwksJson, etag }),
  };
}
