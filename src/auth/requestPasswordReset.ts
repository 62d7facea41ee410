import { invalidArgument } from '../errors/AppError.ts';
import { recordAudit } from '../storage/audit.ts';
import { lockTokenRecipient } from '../storage/users.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { isViolation, normalizeEmail } from './normalize.ts';
import { prepareTokenMail, queueTokenMail } from './oneTimeToken.ts';

/**
 * Queues a password-reset link for the address if it belongs to an active account, and answers
 * the same either way: the token is made and the message rendered before the lookup, and one
 * transaction runs the same statements (lock the user, revoke older reset tokens, insert the
 * token, queue the message, write the audit row) whether or not the account exists; for an
 * unknown address only the audit row is written, so both commits flush the WAL alike. The mail
 * is sent by the outbox sender, outside the request.
 */
export async function requestPasswordReset(
  deps: Pick<AuthDeps, 'pool' | 'mail'>,
  input: { email: string },
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<void> {
  const email = normalizeEmail(input.email);
  if (isViolation(email)) throw invalidArgument([email]);
  await admitAccount(email.normalized);

  const prepared = prepareTokenMail(deps, 'password_reset');
  const queued = await deps.pool.transaction(async (tx) => {
    const user = await lockTokenRecipient(tx, { emailNormalized: email.normalized });
    const { revoked, queued } = await queueTokenMail(tx, user, prepared);
    await recordAudit(tx, 'password_reset_request', {
      subject: user?.id ?? null,
      outcome: user ? 'success' : 'failure',
      request: info,
      details: user ? { revoked_tokens: revoked } : { reason: 'no_active_account' },
    });
    return queued;
  });
  if (queued) deps.mail.queued();
}
