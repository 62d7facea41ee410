import { AppError, invalidArgument } from '../errors/AppError.ts';
import { consumeMfaChallenge, findMfaChallengeByTokenHash } from '../storage/mfaChallenges.ts';
import type { AdmitAccount, AuthDeps, RequestInfo } from './AuthDeps.ts';
import { hashMfaChallengeToken, isMfaChallengeTokenShaped } from './mfaChallenge.ts';
import { openMfaPasskeyChallenge } from './passkeyLogin.ts';
import { requireRpId } from './webauthn.ts';

function challengeInvalid(): AppError {
  return new AppError(
    'MFA_CHALLENGE_INVALID',
    'the sign-in challenge is not valid (unknown, used, expired, from another address, or the account has no passkey); sign in again',
  );
}

/**
 * StartMfaPasskey: request options for the passkeys of the account whose Login answered
 * mfa_required, bound to that challenge. Like CompleteMfaLogin, the challenge must be live and
 * presented from the Login's address (from elsewhere it dies), and the call spends the Login
 * identifier's budget.
 */
export async function startMfaPasskey(
  deps: Pick<AuthDeps, 'pool' | 'webauthn'>,
  challengeToken: string,
  info: RequestInfo,
  admitAccount: AdmitAccount,
): Promise<{ optionsJson: string }> {
  if (challengeToken === '' || challengeToken.length > 128) {
    throw invalidArgument([
      {
        field: 'challenge_token',
        description: 'the challenge_token of LoginResponse.mfa_required is required',
      },
    ]);
  }
  requireRpId(deps.webauthn);
  if (!isMfaChallengeTokenShaped(challengeToken)) throw challengeInvalid();
  const challenge = await findMfaChallengeByTokenHash(
    deps.pool,
    hashMfaChallengeToken(challengeToken),
  );
  if (challenge === null) throw challengeInvalid();
  await admitAccount(challenge.identifier);
  if (!challenge.live) throw challengeInvalid();
  if (challenge.ipAddress !== info.clientIp) {
    await consumeMfaChallenge(deps.pool, challenge.id);
    throw challengeInvalid();
  }
  const optionsJson = await openMfaPasskeyChallenge(deps, challenge, info);
  if (optionsJson === null) throw challengeInvalid();
  return { optionsJson };
}
