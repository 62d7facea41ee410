/**
 * Longest access token Gatehouse looks at, in characters. Its own tokens are well under 2 KiB
 * (an RS256 JWT with a few roles is about 900 characters); anything longer is refused as an
 * invalid token before any base64 or JWT decoding, so a huge header costs no parsing work.
 */
export const MAX_ACCESS_TOKEN_LENGTH = 8192;

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)$/i;

/** What the `authorization` metadata entry holds, checked for shape and length only. */
export type BearerToken =
  | { kind: 'absent' }
  | { kind: 'malformed' }
  | { kind: 'too_long' }
  | { kind: 'token'; token: string };

/** Reads `authorization: Bearer <token>` without decoding the token. */
export function parseBearer(header: string | undefined): BearerToken {
  if (header === undefined || header === '') return { kind: 'absent' };
  // "Bearer " plus the token, with some room for extra spaces; checked before the regex runs.
  if (header.length > MAX_ACCESS_TOKEN_LENGTH + 16) return { kind: 'too_long' };
  const token = BEARER.exec(header.trim())?.[1];
  if (token === undefined) return { kind: 'malformed' };
  if (token.length > MAX_ACCESS_TOKEN_LENGTH) return { kind: 'too_long' };
  return { kind: 'token', token };
}
