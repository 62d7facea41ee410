/**
 * Why `verify()` refused a credential. Stable strings a resource server can switch on; the
 * message is for people and may change.
 *
 * - INVALID_TOKEN: not a Gatehouse access token (malformed, bad signature, wrong algorithm,
 *   issuer, audience or `typ`, a header naming its own key, missing or ill-typed claims, not yet
 *   valid).
 * - UNKNOWN_KEY: signed with a `kid` the JWKS does not publish, even after a refetch.
 * - TOKEN_EXPIRED: `exp` is in the past (beyond the clock tolerance).
 * - TOKEN_REVOKED: the revocation stream (or Gatehouse, asked once) says the session, user,
 *   membership or API key behind it has been revoked.
 * - INVALID_API_KEY: ValidateToken answered `active = false` for an API key.
 * - STREAM_UNAVAILABLE: the revocation stream has been down longer than the access-token
 *   lifetime, so a revocation may have been missed (fail closed; see
 *   `failOpenAfterStreamLoss`).
 * - NOT_READY: asked before the verifier had the keys and the stream's first heartbeat
 *   (await `ready()` first).
 * - UNAVAILABLE: Gatehouse could not be asked (an API key, or a token that must be checked
 *   online once) and nothing cached answers.
 * - CLOSED: `close()` was called.
 */
export type VerifierErrorCode =
  | 'INVALID_TOKEN'
  | 'UNKNOWN_KEY'
  | 'TOKEN_EXPIRED'
  | 'TOKEN_REVOKED'
  | 'INVALID_API_KEY'
  | 'STREAM_UNAVAILABLE'
  | 'NOT_READY'
  | 'UNAVAILABLE'
  | 'CLOSED';

/** The one error `verify()` rejects with; `code` says why. */
export class VerifierError extends Error {
  readonly code: VerifierErrorCode;

  constructor(code: VerifierErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VerifierError';
    this.code = code;
  }
}

/** True when `error` is a VerifierError, optionally with `code`. */
export function isVerifierError(error: unknown, code?: VerifierErrorCode): error is VerifierError {
  return error instanceof VerifierError && (code === undefined || error.code === code);
}
