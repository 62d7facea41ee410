import { z } from 'zod';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

// The accepting side of invitations (AuthService.AcceptInvitation, Register with a token):
// finding one by its token's hash, joining its organisation, using it up. Creating, listing
// and revoking invitations belong to the organisation administration.

/** An invitation found by its token, row-locked for the acceptance. */
export interface LockedInvitation {
  id: string;
  organizationId: string;
  emailNormalized: string;
  roleIds: string[];
  /** Not accepted, not revoked, not expired, and its organisation is active. */
  open: boolean;
}

const invitationRow = z.object({
  id: z.string(),
  organization_id: z.string(),
  email_normalized: z.string(),
  role_ids: z.array(z.string()),
  open: z.boolean(),
});

/**
 * The invitation whose token hashes to `tokenHash`, or null. Its row is locked FOR UPDATE, so
 * concurrent acceptances of one token queue up and only the first finds it open; its
 * organisation is share-locked, so it cannot be disabled or deleted meanwhile.
 */
export async function lockInvitationByTokenHash(
  db: Db,
  tokenHash: Buffer,
): Promise<LockedInvitation | null> {
  const row = await db.maybeOne(sql.type(invitationRow)`
    SELECT i.id, i.organization_id, i.email_normalized, i.role_ids::text[] AS role_ids,
           (i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()
            AND o.status = 'active') AS open
    FROM invitations i JOIN organizations o ON o.id = i.organization_id
    WHERE i.token_hash = ${sql.binary(tokenHash)}
    FOR UPDATE OF i FOR SHARE OF o`);
  return (
    row && {
      id: row.id,
      organizationId: row.organization_id,
      emailNormalized: row.email_normalized,
      roleIds: row.role_ids,
      open: row.open,
    }
  );
}

const idRow = z.object({ id: z.string() });

/**
 * Makes the user a member of the organisation, or keeps the membership it has, and adds the
 * roles of `roleIds` that still exist and are of organisation scope (a union with the roles it
 * already holds); returns the membership's id.
 */
export async function joinOrganization(
  db: Db,
  organizationId: string,
  userId: string,
  roleIds: readonly string[],
): Promise<string> {
  const inserted = await db.maybeOneFirst(sql.type(idRow)`
    INSERT INTO memberships (organization_id, user_id)
    VALUES (${organizationId}, ${userId})
    ON CONFLICT (organization_id, user_id) WHERE user_id IS NOT NULL DO NOTHING
    RETURNING id`);
  const membershipId =
    inserted ??
    (await db.oneFirst(sql.type(idRow)`
      SELECT id FROM memberships
      WHERE organization_id = ${organizationId} AND user_id = ${userId}
      FOR UPDATE`));
  if (roleIds.length > 0) {
    await db.query(sql.typeAlias('void')`
      INSERT INTO membership_roles (membership_id, role_id)
      SELECT ${membershipId}, r.id FROM roles r
      WHERE r.id = ANY (${sql.array([...roleIds], 'uuid')}) AND r.scope = 'organization'
      ON CONFLICT DO NOTHING`);
  }
  return membershipId;
}

/** Uses the invitation up: accepted now by the user. */
export async function markInvitationAccepted(
  db: Db,
  invitationId: string,
  userId: string,
): Promise<void> {
  await db.query(sql.typeAlias('void')`
    UPDATE invitations SET accepted_at = now(), accepted_by_user_id = ${userId}
    WHERE id = ${invitationId}`);
}
