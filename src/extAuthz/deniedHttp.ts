/** The HTTP answer a gateway sends its client instead of forwarding the request. */
export interface DeniedHttp {
  status: 401 | 403 | 429;
  headers: { name: string; value: string }[];
  /** `{"error": "...", "message": "..."}` */
  body: string;
}

/** Why a checked request is denied. */
export type Denial =
  | 'missing_credential'
  | 'invalid_credential'
  | 'mfa_enrollment_required'
  | 'permission_denied'
  | 'rate_limited';

const json = (error: string, message: string) => JSON.stringify({ error, message });
const CONTENT_TYPE = { name: 'content-type', value: 'application/json' };

/**
 * The response of a denial: 401 with `WWW-Authenticate: Bearer` (RFC 6750; `error="invalid_token"`
 * when a credential was presented) for a missing, invalid, expired or revoked credential (which
 * one is not said, as for ValidateToken), 403 for a permission the credential does not hold, 429
 * with Retry-After when the client's credential budget is spent.
 */
export function deniedHttp(
  denial: Denial,
  detail: { permission?: string; retryAfterMs?: number | undefined } = {},
): DeniedHttp {
  switch (denial) {
    case 'missing_credential':
      return {
        status: 401,
        headers: [CONTENT_TYPE, { name: 'www-authenticate', value: 'Bearer' }],
        body: json('unauthenticated', 'this request needs a bearer token or an API key'),
      };
    case 'invalid_credential':
      return {
        status: 401,
        headers: [
          CONTENT_TYPE,
          { name: 'www-authenticate', value: 'Bearer error="invalid_token"' },
        ],
        body: json('unauthenticated', 'the credential is not valid, has expired or was revoked'),
      };
    case 'mfa_enrollment_required':
      return {
        status: 403,
        headers: [CONTENT_TYPE],
        body: json(
          'mfa_enrollment_required',
          'this account must enrol a second factor before it can be used here',
        ),
      };
    case 'permission_denied':
      return {
        status: 403,
        headers: [CONTENT_TYPE],
        body: json(
          'permission_denied',
          `this request needs the permission ${detail.permission ?? ''}`.trim(),
        ),
      };
    case 'rate_limited': {
      const seconds = Math.max(1, Math.ceil((detail.retryAfterMs ?? 1000) / 1000));
      return {
        status: 429,
        headers: [CONTENT_TYPE, { name: 'retry-after', value: String(seconds) }],
        body: json('rate_limited', `too many attempts; retry in ${seconds} s`),
      };
    }
  }
}
