import { isApiKeyLike, parseApiKeySecret } from './apiKeySecret.ts';

/**
 * Legacy API keys: secrets of any format imported from another system (ImportApiKeys), stored
 * and looked up by SHA-256 like `ghk_` keys. Only strings that can be such a secret are ever
 * looked up; everything else on the credential path stays an access token (a JWT, verified
 * without I/O) or a `ghk_` key (checksum verified without I/O).
 */

/** Shorter legacy secrets are guessable: they are refused at import (rotate them instead). */
export const LEGACY_SECRET_MIN_LENGTH = 16;
/** Longer ones are not keys anyone issued; the bound keeps hashing and requests small. */
export const LEGACY_SECRET_MAX_LENGTH = 512;

// RFC 6750 b64token: what `authorization: Bearer` can carry (src/grpc/bearerToken.ts).
const BEARER_ALPHABET = /^[A-Za-z0-9\-._~+/]+=*$/;
// Three base64url segments (empty ones too: `alg: none` has no signature): a JWT's shape.
const JWT_SHAPE = /^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const WHITESPACE = /\s/u;

/**
 * Why `secret` cannot be imported as a legacy key (a sentence for the import result), or null
 * when it can. A well-formed `ghk_` key can (it is one already); the sentence never quotes the
 * secret.
 */
export function legacySecretProblem(secret: string): string | null {
  if (WHITESPACE.test(secret)) {
    return 'the secret contains whitespace; clients cannot send it as a bearer credential';
  }
  if (secret.length < LEGACY_SECRET_MIN_LENGTH) {
    return `the secret is shorter than ${LEGACY_SECRET_MIN_LENGTH} characters, so it can be guessed; rotate this key instead of importing it`;
  }
  if (secret.length > LEGACY_SECRET_MAX_LENGTH) {
    return `the secret is longer than ${LEGACY_SECRET_MAX_LENGTH} characters`;
  }
  if (!BEARER_ALPHABET.test(secret)) {
    return 'the secret has characters a bearer credential cannot carry (allowed: letters, digits, - . _ ~ + / and trailing =)';
  }
  if (isApiKeyLike(secret)) {
    return parseApiKeySecret(secret)
      ? null
      : 'the secret starts with ghk_ but is not a well-formed Gatehouse key (its checksum fails), so it would never be looked up';
  }
  if (JWT_SHAPE.test(secret)) {
    return 'the secret has the shape of a JWT (three dot-separated segments), which is verified as an access token, never looked up as a key';
  }
  return null;
}

/** Whether `s` may be an imported legacy secret (not `ghk_`, not a JWT): worth one lookup. */
export function isLegacyApiKeySecret(s: string): boolean {
  return !isApiKeyLike(s) && legacySecretProblem(s) === null;
}

/**
 * What a bearer or ValidateToken credential is, by its shape alone (no I/O): a `ghk_` key
 * (well-formed or not: a bad checksum is refused without a lookup), a legacy key, or else an
 * access token (anything else: JWTs and strings no import could have stored).
 */
export type CredentialKind = 'api_key' | 'legacy_api_key' | 'access_token';

/** The kind of `credential`; see CredentialKind. */
export function classifyCredential(credential: string): CredentialKind {
  if (isApiKeyLike(credential)) return 'api_key';
  return isLegacyApiKeySecret(credential) ? 'legacy_api_key' : 'access_token';
}
