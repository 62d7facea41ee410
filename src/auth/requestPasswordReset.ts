import { invalidArgument } from '../errors/AppError.ts';
import { insertAuditEvent } from '../storage/audit.ts';
import {
  insertOneTimeToken,
  lockTokenRecipient,
  revokeOneTimeTokens,
} from '../storage/oneTimeTokens.ts';
import { insertOutboxMessage } from '../storage/outbox.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { isViolation, normalizeEmail } from './normalize.ts';
import { newOneTimeToken } from './oneTimeToken.ts';

/**
 * Queues a password-reset link for the address if it belongs to an active account, and answers
 * the same either way: the token is made and the message rendered before the lookup, and one
 * transaction runs the same statements (lock the user, revoke older reset tokens, insert the
 * token, queue the message, write the audit row) whether or not the account exists; for an
 * unknown address only the audit row is written, so both commits flush the WAL alike. The mail
 * is sent by the outbox sender, outside the request.
 */
export async function requestPasswordReset(
  deps: AuthDeps,
  input: { email: string },
  info: RequestInfo,
): Promise<void> {
  const email = normalizeEmail(input.email);
  if (isViolation(email)) throw invalidArgument([email]);
  await deps.limits.admitAccount('password_reset', email.normalized, info.clientIp);

  const { token, hash } = newOneTimeToken('password_reset');
  const message = deps.mail.compose('password_reset', token);
  const ttlSec = deps.mail.ttlSec('password_reset');
  const queued = await deps.pool.transaction(async (tx) => {
    const user = await lockTokenRecipient(tx, { emailNormalized: email.normalized });
    const revoked = await revokeOneTimeTokens(tx, user?.id ?? null, 'password_reset');
    await insertOneTimeToken(tx, { user, purpose: 'password_reset', tokenHash: hash, ttlSec });
    const messageId = await insertOutboxMessage(tx, {
      kind: message.kind,
      recipient: user?.email ?? null,
      subject: message.subject,
      text: message.text,
      html: message.html,
      messageId: message.messageId,
      ttlSec,
    });
    await insertAuditEvent(tx, {
      action: 'password_reset_request',
      outcome: user ? 'success' : 'failure',
      subjectUserId: user?.id ?? null,
      ...info,
      details: user ? { revoked_tokens: revoked } : { reason: 'no_active_account' },
    });
    return messageId !== null;
  });
  if (queued) deps.mail.queued();
}
