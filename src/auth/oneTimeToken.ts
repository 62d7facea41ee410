import { createHash, randomBytes } from 'node:crypto';
import type { OneTimePurpose } from '../storage/oneTimeTokens.ts';

/**
 * Prefixes let secret scanners and support staff tell the tokens apart (and avoid GitHub's
 * `ghp_`, which scanners would report as a GitHub token).
 */
const PREFIX: Record<OneTimePurpose, string> = {
  password_reset: 'ghpr_',
  email_verification: 'ghev_',
};

/** A new one-time token: 256 random bits, base64url, prefixed; only its hash is stored. */
export function newOneTimeToken(purpose: OneTimePurpose): { token: string; hash: Buffer } {
  const token = `${PREFIX[purpose]}${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashOneTimeToken(token) };
}

export function hashOneTimeToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Whether `token` has the shape of a token of `purpose` (anything else cannot be one). */
export function isOneTimeTokenShaped(token: string, purpose: OneTimePurpose): boolean {
  return token.length === PREFIX[purpose].length + 43 && token.startsWith(PREFIX[purpose])
    ? /^[A-Za-z0-9_-]{43}$/.test(token.slice(PREFIX[purpose].length))
    : false;
}
