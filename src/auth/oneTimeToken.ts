import { createHash, randomBytes } from 'node:crypto';
import type { OneTimePurpose } from '../domain/OneTimeToken.ts';
import type { User } from '../domain/User.ts';
import type { ComposedMail } from '../mail/createAccountMail.ts';
import type { Db } from '../storage/Db.ts';
import { insertOneTimeToken, revokeOneTimeTokens } from '../storage/oneTimeTokens.ts';
import { insertOutboxMessage } from '../storage/outbox.ts';
import type { AuthDeps } from './AuthDeps.ts';

/**
 * Prefixes let secret scanners and support staff tell the tokens apart (and avoid GitHub's
 * `ghp_`, which scanners would report as a GitHub token).
 */
const PREFIX: Record<OneTimePurpose, string> = {
  password_reset: 'ghpr_',
  email_verification: 'ghev_',
};

/** A new one-time token: 256 random bits, base64url, prefixed; only its hash is stored. */
function newOneTimeToken(purpose: OneTimePurpose): { token: string; hash: Buffer } {
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

/** A token and its rendered message, made before any lookup so both branches do the same work. */
export interface PreparedTokenMail {
  purpose: OneTimePurpose;
  hash: Buffer;
  message: ComposedMail;
  ttlSec: number;
}

export function prepareTokenMail(
  deps: Pick<AuthDeps, 'mail'>,
  purpose: OneTimePurpose,
): PreparedTokenMail {
  const { token, hash } = newOneTimeToken(purpose);
  return {
    purpose,
    hash,
    message: deps.mail.compose(purpose, token),
    ttlSec: deps.mail.ttlSec(purpose),
  };
}

/**
 * In the caller's transaction: voids the user's older tokens of this purpose, stores the new
 * one and queues its mail. With no user the same statements run and match nothing, so a request
 * for an unknown address costs what a real one does. Returns what it revoked and whether mail
 * was queued.
 */
export async function queueTokenMail(
  tx: Db,
  user: User | null,
  prepared: PreparedTokenMail,
): Promise<{ revoked: number; queued: boolean }> {
  const { purpose, hash, message, ttlSec } = prepared;
  const revoked = await revokeOneTimeTokens(tx, user?.id ?? null, purpose);
  await insertOneTimeToken(tx, { user, purpose, tokenHash: hash, ttlSec });
  const messageId = await insertOutboxMessage(tx, {
    kind: message.kind,
    recipient: user?.email ?? null,
    subject: message.subject,
    text: message.text,
    html: message.html,
    messageId: message.messageId,
    ttlSec,
  });
  return { revoked, queued: messageId !== null };
}
