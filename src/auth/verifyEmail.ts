import type { User } from '../domain/User.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { recordAudit } from '../storage/audit.ts';
import { consumeOneTimeToken, revokeOneTimeTokens } from '../storage/oneTimeTokens.ts';
import { markEmailVerified } from '../storage/users.ts';
import type { AuthDeps, RequestInfo } from './AuthDeps.ts';
import { hashOneTimeToken, isOneTimeTokenShaped } from './oneTimeToken.ts';

/** The one answer for an unknown, malformed, expired, used, superseded or re-addressed token. */
function invalidVerificationToken(): AppError {
  return new AppError(
    'INVALID_VERIFICATION_TOKEN',
    'the email verification token is invalid or expired',
    {
      fieldViolations: [
        { field: 'token', description: 'invalid or expired; request a new one', reason: 'INVALID' },
      ],
    },
  );
}

/**
 * Marks the address a token from RequestEmailVerification was sent to as verified, if the
 * account still has it. Not authenticated: the link may be opened on another device. The token
 * is used up under a row lock; other unused verification tokens of the user are revoked.
 */
export async function verifyEmail(
  deps: Pick<AuthDeps, 'pool'>,
  input: { token: string },
  info: RequestInfo,
): Promise<User> {
  if (input.token === '') {
    throw invalidArgument([
      { field: 'token', description: 'a verification token is required', reason: 'REQUIRED' },
    ]);
  }
  if (!isOneTimeTokenShaped(input.token, 'email_verification')) throw invalidVerificationToken();
  const tokenHash = hashOneTimeToken(input.token);
  return deps.pool.transaction(async (tx) => {
    const token = await consumeOneTimeToken(tx, 'email_verification', tokenHash);
    if (token === null) throw invalidVerificationToken();
    const user = await markEmailVerified(tx, token.userId, token.emailNormalized);
    if (user === null) throw invalidVerificationToken();
    await revokeOneTimeTokens(tx, token.userId, 'email_verification');
    await recordAudit(tx, 'email_verify', { actor: token.userId, request: info });
    return user;
  });
}
