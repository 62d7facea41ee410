import { z } from 'zod';
import type { WebauthnChallenge, WebauthnPurpose } from '../domain/SecondFactor.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// Outstanding WebAuthn challenges (table webauthn_challenges): single-use, short-lived.

const challengeRow = z.object({
  id: z.string(),
  user_id: z.string().nullable(),
  purpose: z.enum(['registration', 'login', 'second_factor', 'reauthentication']),
  challenge: z.instanceof(Buffer),
  mfa_challenge_id: z.string().nullable(),
  session_id: z.string().nullable(),
  identifier: z.string().nullable(),
  ip_address: z.string(),
  expires_at: z.date(),
  live: z.boolean(),
});

function toChallenge(r: z.infer<typeof challengeRow>): WebauthnChallenge {
  return {
    id: r.id,
    userId: r.user_id,
    purpose: r.purpose,
    challenge: r.challenge,
    mfaChallengeId: r.mfa_challenge_id,
    sessionId: r.session_id,
    identifier: r.identifier,
    ipAddress: r.ip_address,
    expiresAt: r.expires_at,
    live: r.live,
  };
}

const COLUMNS = sql.fragment`
  id, user_id, purpose, challenge, mfa_challenge_id, session_id, identifier, ip_address,
  expires_at,
  (consumed_at IS NULL AND expires_at > now()) AS live`;

/**
 * Stores a new challenge. First removes what is over (expired or consumed challenges, a few at a
 * time) and, for a registration, second-factor or reauthentication challenge, the earlier ones of
 * the same user, mfa challenge or session: only the newest options are good.
 */
export async function insertWebauthnChallenge(
  db: Db,
  c: {
    idHash: Buffer;
    userId: string | null;
    purpose: WebauthnPurpose;
    challenge: Buffer;
    mfaChallengeId: string | null;
    sessionId: string | null;
    identifier: string | null;
    ipAddress: string;
    ttlSec: number;
  },
): Promise<WebauthnChallenge> {
  await db.query(sql.typeAlias('void')`
    DELETE FROM webauthn_challenges WHERE id IN (
      SELECT id FROM webauthn_challenges
      WHERE expires_at <= now() - interval '1 hour' OR consumed_at < now() - interval '1 hour'
      LIMIT 100)`);
  if (c.purpose === 'registration') {
    await db.query(sql.typeAlias('void')`
      DELETE FROM webauthn_challenges WHERE user_id = ${c.userId} AND purpose = 'registration'`);
  }
  if (c.mfaChallengeId !== null) {
    await db.query(sql.typeAlias('void')`
      DELETE FROM webauthn_challenges WHERE mfa_challenge_id = ${c.mfaChallengeId}`);
  }
  if (c.sessionId !== null) {
    await db.query(sql.typeAlias('void')`
      DELETE FROM webauthn_challenges WHERE session_id = ${c.sessionId}`);
  }
  const row = await db.one(sql.type(challengeRow)`
    INSERT INTO webauthn_challenges (id_hash, user_id, purpose, challenge, mfa_challenge_id,
                                     session_id, identifier, ip_address, expires_at)
    VALUES (${sql.binary(c.idHash)}, ${c.userId}, ${c.purpose}, ${sql.binary(c.challenge)},
            ${c.mfaChallengeId}, ${c.sessionId}, ${c.identifier}, ${c.ipAddress},
            now() + make_interval(secs => ${c.ttlSec}))
    RETURNING ${COLUMNS}`);
  return toChallenge(row);
}

/** The challenge whose opaque id has this hash (any state), or null. */
export async function findWebauthnChallengeByIdHash(
  db: Db,
  idHash: Buffer,
): Promise<WebauthnChallenge | null> {
  const row = await db.maybeOne(sql.type(challengeRow)`
    SELECT ${COLUMNS} FROM webauthn_challenges WHERE id_hash = ${sql.binary(idHash)}`);
  return row && toChallenge(row);
}

/** The challenge with these random bytes and purpose (any state), or null. */
export async function findWebauthnChallengeByChallenge(
  db: Db,
  challenge: Buffer,
  purpose: WebauthnPurpose,
): Promise<WebauthnChallenge | null> {
  const row = await db.maybeOne(sql.type(challengeRow)`
    SELECT ${COLUMNS} FROM webauthn_challenges
    WHERE challenge = ${sql.binary(challenge)} AND purpose = ${purpose}`);
  return row && toChallenge(row);
}

const idRow = z.object({ id: z.string() });

/** Uses the challenge up; false when it was not live (used, expired, or a concurrent call won). */
export async function consumeWebauthnChallenge(db: Db, id: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(idRow)`
    UPDATE webauthn_challenges SET consumed_at = now()
    WHERE id = ${id} AND consumed_at IS NULL AND expires_at > now() RETURNING id`);
  return row !== null;
}
