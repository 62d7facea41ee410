import { createHash, randomBytes } from 'node:crypto';
import type { MfaMethodName } from '../domain/SecondFactor.ts';
import type { User } from '../domain/User.ts';
import { recordAudit } from '../storage/audit.ts';
import type { Db } from '../storage/Db.ts';
import { insertMfaChallenge } from '../storage/mfaChallenges.ts';
import { countUnusedRecoveryCodes } from '../storage/recoveryCodes.ts';
import { releasePasswordAttempt, updateUserPasswordHash } from '../storage/users.ts';
import type { RequestInfo } from './AuthDeps.ts';

/** How long the second step of a login may take. */
export const MFA_CHALLENGE_TTL_SEC = 300;
/** Wrong codes one challenge takes before it dies (the account's lockout still counts each). */
export const MFA_CHALLENGE_MAX_FAILURES = 5;

const PREFIX = 'ghm_';

/** SHA-256 of a challenge token: all that is stored. */
export function hashMfaChallengeToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/** Whether `token` has the shape of a challenge token (anything else is refused unread). */
export function isMfaChallengeTokenShaped(token: string): boolean {
  return (
    token.length === PREFIX.length + 43 &&
    token.startsWith(PREFIX) &&
    /^[A-Za-z0-9_-]{43}$/.test(token.slice(PREFIX.length))
  );
}

/**
 * The second step of a login, in Login's transaction, after the password was accepted: the
 * attempt beginPasswordAttempt counted is given back (a correct password is no failure, but
 * earlier failures stay until the login completes), a rehashed password is stored, and a
 * challenge bound to the client address is opened and audited (mfa_challenge).
 */
export async function openMfaChallenge(
  tx: Db,
  user: User,
  identifier: string,
  organizationId: string | null,
  upgradedHash: string | null,
  info: RequestInfo,
  factors: { totp: boolean; passkey: boolean },
): Promise<{
  kind: 'mfa_required';
  challengeToken: string;
  methods: MfaMethodName[];
  expiresAt: Date;
}> {
  await releasePasswordAttempt(tx, user.id);
  if (upgradedHash !== null) await updateUserPasswordHash(tx, user.id, upgradedHash);
  const token = `${PREFIX}${randomBytes(32).toString('base64url')}`;
  const challenge = await insertMfaChallenge(tx, {
    tokenHash: hashMfaChallengeToken(token),
    userId: user.id,
    identifier,
    organizationId,
    ipAddress: info.clientIp,
    ttlSec: MFA_CHALLENGE_TTL_SEC,
  });
  const methods: MfaMethodName[] = factors.totp ? ['totp'] : [];
  if ((await countUnusedRecoveryCodes(tx, user.id)) > 0) methods.push('recovery_code');
  if (factors.passkey) methods.push('passkey');
  await recordAudit(tx, 'mfa_challenge', {
    actor: user.id,
    request: info,
    details: {
      challenge_id: challenge.id,
      methods: methods.join(' '),
      organization_id: organizationId,
      password_rehashed: upgradedHash !== null,
    },
  });
  return { kind: 'mfa_required', challengeToken: token, methods, expiresAt: challenge.expiresAt };
}
