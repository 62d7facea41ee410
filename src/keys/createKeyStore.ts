import type { Logger } from '../log.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { type AccessTokens, createAccessTokens } from './createAccessTokens.ts';
import { createSigningKeyRing, type SigningKeyRing } from './createSigningKeyRing.ts';
import type { SigningAlgorithm } from './generateSigningKey.ts';

/** The key ring's lifecycle and JWKS with the access tokens signed and verified by its keys. */
export interface KeyStore extends AccessTokens, Pick<SigningKeyRing, 'start' | 'stop' | 'jwks'> {}

export interface KeyStoreOptions {
  issuer: string;
  audience: string;
  algorithm: SigningAlgorithm;
  accessTtlSec: number;
  clockSkewSec: number;
  refreshSec: number;
  privateKeyFile: string | undefined;
  verifiedCacheMaxBytes?: number;
}

/**
 * Signing keys shared through PostgreSQL (createSigningKeyRing) and the access tokens made with
 * them (createAccessTokens), built together from the token settings.
 */
export function createKeyStore(
  pool: DatabasePool,
  options: KeyStoreOptions,
  log: Logger,
): KeyStore {
  const ring = createSigningKeyRing(pool, options, log);
  const tokens = createAccessTokens(ring, options);
  return {
    start: ring.start,
    stop: ring.stop,
    jwks: ring.jwks,
    sign: tokens.sign,
    verify: tokens.verify,
    signApiKeyToken: tokens.signApiKeyToken,
    verifyApiKeyToken: tokens.verifyApiKeyToken,
  };
}
