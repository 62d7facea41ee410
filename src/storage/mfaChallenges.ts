import { z } from 'zod';
import type { MfaChallenge } from '../domain/SecondFactor.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// The second steps of logins (table mfa_challenges): only each token's SHA-256 is stored.

const challengeRow = z.object({
  id: z.string(),
  user_id: z.string(),
  identifier: z.string(),
  organization_id: z.string().nullable(),
  ip_address: z.string(),
  expires_at: z.date(),
  consumed_at: z.date().nullable(),
  failure_count: z.number(),
});

function toChallenge(r: z.infer<typeof challengeRow>): MfaChallenge {
  return {
    id: r.id,
    userId: r.user_id,
    identifier: r.identifier,
    organizationId: r.organization_id,
    ipAddress: r.ip_address,
    expiresAt: r.expires_at,
    consumedAt: r.consumed_at,
    failureCount: r.failure_count,
  };
}

const COLUMNS = sql.fragment`
  id, user_id, identifier, organization_id, ip_address, expires_at, consumed_at, failure_count`;

/**
 * Opens a challenge for the user, first removing the user's challenges that are over (expired
 * or consumed), so rows do not pile up without a cleanup job.
 */
export async function insertMfaChallenge(
  db: Db,
  c: {
    tokenHash: Buffer;
    userId: string;
    identifier: string;
    organizationId: string | null;
    ipAddress: string;
    ttlSec: number;
  },
): Promise<MfaChallenge> {
  await db.query(sql.typeAlias('void')`
    DELETE FROM mfa_challenges
    WHERE user_id = ${c.userId} AND (expires_at <= now() OR consumed_at IS NOT NULL)`);
  const row = await db.one(sql.type(challengeRow)`
    INSERT INTO mfa_challenges (token_hash, user_id, identifier, organization_id, ip_address,
                                expires_at)
    VALUES (${sql.binary(c.tokenHash)}, ${c.userId}, ${c.identifier}, ${c.organizationId},
            ${c.ipAddress}, now() + make_interval(secs => ${c.ttlSec}))
    RETURNING ${COLUMNS}`);
  return toChallenge(row);
}

const challengeLiveRow = challengeRow.extend({ live: z.boolean() });

/** The challenge with this token hash, whatever its state, or null; FOR UPDATE when asked. */
export async function findMfaChallengeByTokenHash(
  db: Db,
  tokenHash: Buffer,
  forUpdate = false,
): Promise<(MfaChallenge & { live: boolean }) | null> {
  const row = await db.maybeOne(sql.type(challengeLiveRow)`
    SELECT ${COLUMNS}, (consumed_at IS NULL AND expires_at > now()) AS live
    FROM mfa_challenges WHERE token_hash = ${sql.binary(tokenHash)}
    ${forUpdate ? sql.fragment`FOR UPDATE` : sql.fragment``}`);
  return row && { ...toChallenge(row), live: row.live };
}

const idRow = z.object({ id: z.string() });

/** Uses the challenge up; false when it was already used (a concurrent call won). */
export async function consumeMfaChallenge(db: Db, id: string): Promise<boolean> {
  const row = await db.maybeOne(sql.type(idRow)`
    UPDATE mfa_challenges SET consumed_at = now()
    WHERE id = ${id} AND consumed_at IS NULL RETURNING id`);
  return row !== null;
}

const failureCountRow = z.object({ failure_count: z.number() });

/**
 * Counts a wrong code against the challenge; at `maxFailures` it is used up (dead). Returns the
 * new count.
 */
export async function recordMfaChallengeFailure(
  db: Db,
  id: string,
  maxFailures: number,
): Promise<number> {
  return db.oneFirst(sql.type(failureCountRow)`
    UPDATE mfa_challenges
    SET failure_count = failure_count + 1,
        consumed_at = CASE WHEN failure_count + 1 >= ${maxFailures} THEN now() ELSE consumed_at END
    WHERE id = ${id}
    RETURNING failure_count`);
}
