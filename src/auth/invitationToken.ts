import { randomBytes } from 'node:crypto';
import { hashOneTimeToken } from './oneTimeToken.ts';

/** Invitation tokens stand apart from reset (`ghpr_`) and verification (`ghev_`) tokens. */
export const INVITATION_TOKEN_PREFIX = 'ghin_';

/** A new invitation token: 256 random bits, base64url, prefixed; only its SHA-256 is stored. */
export function newInvitationToken(): { token: string; hash: Buffer } {
  const token = `${INVITATION_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashInvitationToken(token) };
}

/** The SHA-256 that invitations.token_hash holds, as for every mailed one-time token. */
export const hashInvitationToken: (token: string) => Buffer = hashOneTimeToken;

/** Whether `token` has the shape of an invitation token (anything else cannot be one). */
export function isInvitationTokenShaped(token: string): boolean {
  return (
    token.length === INVITATION_TOKEN_PREFIX.length + 43 &&
    token.startsWith(INVITATION_TOKEN_PREFIX) &&
    /^[A-Za-z0-9_-]{43}$/.test(token.slice(INVITATION_TOKEN_PREFIX.length))
  );
}
