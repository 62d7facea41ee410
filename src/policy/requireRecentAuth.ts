import { AppError } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import type { Db } from '../storage/Db.ts';
import { findSessionById } from '../storage/sessions.ts';
import type { MethodPolicy } from './MethodPolicy.ts';
import type { Step } from './Step.ts';

/**
 * `requires_recent_auth`: a session caller must have authenticated within `windowSec`, else
 * FAILED_PRECONDITION, REAUTHENTICATION_REQUIRED. Reads the session's `auth_time` as stored
 * (one primary-key read, on these rare calls only), not the token's claim, so Reauthenticate
 * counts for every token of the session at once. Other kinds of principal have no
 * authentication time and are exempt (see policy.proto).
 */
export function requireRecentAuthStep(
  policy: MethodPolicy,
  db: Db,
  windowSec: number,
  now: () => number = Date.now,
): Step | null {
  if (!policy.requiresRecentAuth) return null;
  return async (call, next) => {
    const principal = call.principal;
    if (principal === undefined) throw new Error(`${call.path}: step-up needs a principal`);
    if (principal.kind === 'user') {
      const session = await findSessionById(db, principal.sessionId);
      if (session === null || session.revokedAt !== null) throw invalidAccessToken();
      if (now() - session.authTime.getTime() > windowSec * 1000) {
        throw new AppError(
          'REAUTHENTICATION_REQUIRED',
          `this call needs a sign-in within the last ${windowSec} seconds: call Reauthenticate with your password (and second factor), then retry with the access token it returns`,
        );
      }
    }
    return next();
  };
}
