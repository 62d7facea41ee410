import { AppError } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { recordAudit } from '../storage/audit.ts';
import { lockTokenRecipient } from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { prepareTokenMail, queueTokenMail } from './oneTimeToken.ts';
import type { UserPrincipal } from './Principal.ts';

/**
 * Queues a verification link to the caller's current address, revoking earlier unused ones;
 * token, message and audit row commit together. Limited per account like other credential
 * actions, since each call sends mail.
 */
export async function requestEmailVerification(
  deps: Pick<AuthDeps, 'pool' | 'mail'>,
  principal: UserPrincipal,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<void> {
  await admitAccount(principal.userId);
  const prepared = prepareTokenMail(deps, 'email_verification');
  await deps.pool.transaction(async (tx) => {
    const user = await lockTokenRecipient(tx, { userId: principal.userId });
    if (user === null) {
      throw invalidAccessToken();
    }
    if (user.emailVerified) {
      throw new AppError('EMAIL_ALREADY_VERIFIED', 'the email address is already verified');
    }
    const { revoked } = await queueTokenMail(tx, user, prepared);
    await recordAudit(tx, 'email_verification_request', {
      actor: user.id,
      request: info,
      details: { revoked_tokens: revoked },
    });
  });
  deps.mail.queued();
}
