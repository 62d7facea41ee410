import { AppError } from '../errors/AppError.ts';
import { insertAuditEvent } from '../storage/audit.ts';
import {
  insertOneTimeToken,
  lockTokenRecipient,
  revokeOneTimeTokens,
} from '../storage/oneTimeTokens.ts';
import { insertOutboxMessage } from '../storage/outbox.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { newOneTimeToken } from './oneTimeToken.ts';
import type { Principal } from './Principal.ts';

/**
 * Queues a verification link to the caller's current address, revoking earlier unused ones;
 * token, message and audit row commit together. Limited per account like other credential
 * actions, since each call sends mail.
 */
export async function requestEmailVerification(
  deps: AuthDeps,
  principal: Principal,
  info: RequestInfo,
): Promise<void> {
  await deps.limits.admitAccount('email_verification', principal.userId, info.clientIp);
  const { token, hash } = newOneTimeToken('email_verification');
  const message = deps.mail.compose('email_verification', token);
  const ttlSec = deps.mail.ttlSec('email_verification');
  await deps.pool.transaction(async (tx) => {
    const user = await lockTokenRecipient(tx, { userId: principal.userId });
    if (user === null) {
      throw new AppError('INVALID_ACCESS_TOKEN', 'the access token is invalid or expired');
    }
    if (user.email_verified) {
      throw new AppError('EMAIL_ALREADY_VERIFIED', 'the email address is already verified');
    }
    const revoked = await revokeOneTimeTokens(tx, user.id, 'email_verification');
    await insertOneTimeToken(tx, { user, purpose: 'email_verification', tokenHash: hash, ttlSec });
    await insertOutboxMessage(tx, {
      kind: message.kind,
      recipient: user.email,
      subject: message.subject,
      text: message.text,
      html: message.html,
      messageId: message.messageId,
      ttlSec,
    });
    await insertAuditEvent(tx, {
      action: 'email_verification_request',
      outcome: 'success',
      actorUserId: user.id,
      subjectUserId: user.id,
      ...info,
      details: { revoked_tokens: revoked },
    });
  });
  deps.mail.queued();
}
