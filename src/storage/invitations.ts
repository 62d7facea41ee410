import { z } from 'zod';
import type { Invitation, Inviter } from '../domain/Invitation.ts';
import { AppError } from '../errors/AppError.ts';
import type { Db } from './Db.ts';
import { afterCursor, type TimeIdCursor } from './organizations.ts';
import { sql } from './sql.ts';

/** The invitations table (migration 0008); token_hash is written here and never read back. */
const invitationRow = z.object({
  id: z.string(),
  organization_id: z.string(),
  email_normalized: z.string(),
  role_ids: z.array(z.string()),
  status: z.enum(['open', 'accepted', 'revoked', 'expired']),
  invited_by_user_id: z.string().nullable(),
  invited_by_service_account_id: z.string().nullable(),
  created_at: z.date(),
  expires_at: z.date(),
  accepted_at: z.date().nullable(),
  accepted_by_user_id: z.string().nullable(),
  revoked_at: z.date().nullable(),
});
type InvitationRow = z.infer<typeof invitationRow>;

const toInvitation = (r: InvitationRow): Invitation => ({
  id: r.id,
  organizationId: r.organization_id,
  emailNormalized: r.email_normalized,
  roleIds: r.role_ids,
  status: r.status,
  invitedByUserId: r.invited_by_user_id,
  invitedByServiceAccountId: r.invited_by_service_account_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  acceptedAt: r.accepted_at,
  acceptedByUserId: r.accepted_by_user_id,
  revokedAt: r.revoked_at,
});

// Accepted and revoked are final; an open invitation past its expiry is expired.
const COLUMNS = sql.fragment`
  id, organization_id, email_normalized,
  ARRAY(SELECT unnest(role_ids)::text ORDER BY 1) AS role_ids,
  CASE WHEN accepted_at IS NOT NULL THEN 'accepted'
       WHEN revoked_at IS NOT NULL THEN 'revoked'
       WHEN expires_at <= now() THEN 'expired'
       ELSE 'open' END AS status,
  invited_by_user_id, invited_by_service_account_id, created_at, expires_at, accepted_at,
  accepted_by_user_id, revoked_at`;

const OPEN = sql.fragment`accepted_at IS NULL AND revoked_at IS NULL`;

export interface NewInvitation {
  organizationId: string;
  emailNormalized: string;
  roleIds: readonly string[];
  /** SHA-256 of the token. */
  tokenHash: Buffer;
  invitedBy: Inviter;
  ttlSec: number;
}

const idRow = z.object({ id: z.string() });

/**
 * Revokes the invitation of this address to this organisation that is neither accepted nor
 * revoked (expired or not: the unique open key covers both); returns its id, or null.
 */
export async function revokeOpenInvitationOf(
  db: Db,
  organizationId: string,
  emailNormalized: string,
): Promise<string | null> {
  return db.maybeOneFirst(sql.type(idRow)`
    UPDATE invitations SET revoked_at = now()
    WHERE organization_id = ${organizationId} AND email_normalized = ${emailNormalized} AND ${OPEN}
    RETURNING id`);
}

/** Stores an open invitation; the caller revoked any open one of the address first. */
export async function insertInvitation(db: Db, i: NewInvitation): Promise<Invitation> {
  return toInvitation(
    await db.one(sql.type(invitationRow)`
      INSERT INTO invitations (organization_id, email_normalized, role_ids, token_hash,
                               invited_by_user_id, invited_by_service_account_id, expires_at)
      VALUES (${i.organizationId}, ${i.emailNormalized}, ${sql.array([...i.roleIds], 'uuid')},
              ${sql.binary(i.tokenHash)},
              ${i.invitedBy?.kind === 'user' ? i.invitedBy.id : null},
              ${i.invitedBy?.kind === 'service_account' ? i.invitedBy.id : null},
              now() + make_interval(secs => ${i.ttlSec}))
      RETURNING ${COLUMNS}`),
  );
}

/**
 * Revokes an invitation of the organisation unless it is accepted or revoked already (then it
 * is returned as it is); INVITATION_NOT_FOUND when the organisation has no such invitation.
 */
export async function revokeInvitation(
  db: Db,
  organizationId: string,
  id: string,
): Promise<Invitation> {
  const row = await db.maybeOne(sql.type(invitationRow)`
    SELECT ${COLUMNS} FROM invitations
    WHERE id = ${id} AND organization_id = ${organizationId}
    FOR UPDATE`);
  if (row === null) {
    throw new AppError('INVITATION_NOT_FOUND', 'no such invitation in this organisation');
  }
  if (row.status === 'accepted' || row.status === 'revoked') return toInvitation(row);
  return toInvitation(
    await db.one(sql.type(invitationRow)`
      UPDATE invitations SET revoked_at = now() WHERE id = ${id} RETURNING ${COLUMNS}`),
  );
}

const invitationCursorCreatedAtRow = invitationRow.extend({ cursor_created_at: z.string() });

/**
 * One page of an organisation's invitations in (created_at, id) order after `after`; a keyset
 * scan on invitations_org_created_at_id_idx.
 */
export async function findInvitationsPage(
  db: Db,
  organizationId: string,
  after: TimeIdCursor | null,
  limit: number,
): Promise<{ invitation: Invitation; cursor: TimeIdCursor }[]> {
  const conditions = [sql.fragment`organization_id = ${organizationId}`];
  if (after !== null) conditions.push(afterCursor(after));
  const rows = await db.any(sql.type(invitationCursorCreatedAtRow)`
    SELECT ${COLUMNS},
           to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_created_at
    FROM invitations
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY created_at, id
    LIMIT ${limit}`);
  return rows.map((r) => ({
    invitation: toInvitation(r),
    cursor: { createdAt: r.cursor_created_at, id: r.id },
  }));
}
