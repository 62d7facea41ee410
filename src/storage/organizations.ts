import { UniqueIntegrityConstraintViolationError } from 'slonik';
import { z } from 'zod';
import type { NewOrganization, Organization, OrganizationStatus } from '../domain/Organization.ts';
import { AppError } from '../errors/AppError.ts';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

/** The organizations table. Its members live in memberships (src/storage/memberships.ts). */
const organizationRow = z.object({
  id: z.string(),
  slug: z.string(),
  display_name: z.string(),
  attributes: z.record(z.string(), z.string()),
  status: z.enum(['active', 'disabled', 'deleted']),
  created_at: z.date(),
  updated_at: z.date(),
});
type OrganizationRow = z.infer<typeof organizationRow>;

const COLUMNS = sql.fragment`id, slug, display_name, attributes, status, created_at, updated_at`;

const toOrganization = (r: OrganizationRow): Organization => ({
  id: r.id,
  slug: r.slug,
  displayName: r.display_name,
  attributes: r.attributes,
  status: r.status,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Inserts an active organisation; the partial unique index decides ORGANIZATION_SLUG_TAKEN. */
export async function insertOrganization(db: Db, org: NewOrganization): Promise<Organization> {
  try {
    return toOrganization(
      await db.one(sql.type(organizationRow)`
        INSERT INTO organizations (slug, display_name, attributes)
        VALUES (${org.slug}, ${org.displayName}, ${sql.jsonb(org.attributes)})
        RETURNING ${COLUMNS}`),
    );
  } catch (error) {
    if (
      error instanceof UniqueIntegrityConstraintViolationError &&
      error.constraint === 'organizations_slug_key'
    ) {
      throw new AppError(
        'ORGANIZATION_SLUG_TAKEN',
        'an organisation with this slug already exists',
      );
    }
    throw error;
  }
}

/**
 * The live (not deleted) organisation with this id; ORGANIZATION_NOT_FOUND otherwise.
 * `lock`: 'update' locks its row; 'share' keeps it from being changed or deleted until the
 * transaction ends (adding a member).
 */
export async function getOrganizationById(
  db: Db,
  id: string,
  options: { lock?: 'update' | 'share' } = {},
): Promise<Organization> {
  const lock =
    options.lock === 'update'
      ? sql.fragment`FOR UPDATE`
      : options.lock === 'share'
        ? sql.fragment`FOR SHARE`
        : sql.fragment``;
  const row = await db.maybeOne(sql.type(organizationRow)`
    SELECT ${COLUMNS} FROM organizations WHERE id = ${id} AND status <> 'deleted' ${lock}`);
  if (row === null) throw new AppError('ORGANIZATION_NOT_FOUND', 'no such organisation');
  return toOrganization(row);
}

/** Position after the last row of a page: created_at with microseconds (UTC), then id. */
export interface TimeIdCursor {
  createdAt: string;
  id: string;
}

const CURSOR_TIME = sql.fragment`
  to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS cursor_created_at`;

/** The keyset condition "(created_at, id) after `after`". */
export function afterCursor(after: TimeIdCursor) {
  return sql.fragment`(created_at, id) >
    ((${after.createdAt}::timestamp AT TIME ZONE 'UTC'), ${after.id}::uuid)`;
}

const organizationCursorCreatedAtRow = organizationRow.extend({ cursor_created_at: z.string() });

/**
 * One page of organisations in (created_at, id) order after `after`, of one status (null:
 * every status except deleted); a keyset scan on organizations_created_at_id_idx.
 */
export async function findOrganizationsPage(
  db: Db,
  status: OrganizationStatus | null,
  after: TimeIdCursor | null,
  limit: number,
): Promise<{ organization: Organization; cursor: TimeIdCursor }[]> {
  const conditions = [
    status === null ? sql.fragment`status <> 'deleted'` : sql.fragment`status = ${status}`,
  ];
  if (after !== null) conditions.push(afterCursor(after));
  const rows = await db.any(sql.type(organizationCursorCreatedAtRow)`
    SELECT ${COLUMNS}, ${CURSOR_TIME}
    FROM organizations
    WHERE ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY created_at, id
    LIMIT ${limit}`);
  return rows.map((r) => ({
    organization: toOrganization(r),
    cursor: { createdAt: r.cursor_created_at, id: r.id },
  }));
}

/** Changes of UpdateOrganization (and DeleteOrganization's status); a present key is written. */
export interface OrganizationChanges {
  displayName?: string;
  attributes?: Record<string, string>;
  status?: OrganizationStatus;
}

/**
 * Writes the given fields. A status change fires the 'authz' notification; 'deleted' is a soft
 * delete (deleted_at set) and the partial unique index frees the slug.
 */
export async function updateOrganization(
  db: Db,
  id: string,
  changes: OrganizationChanges,
): Promise<Organization> {
  const sets = [sql.fragment`updated_at = now()`];
  if (changes.displayName !== undefined) {
    sets.push(sql.fragment`display_name = ${changes.displayName}`);
  }
  if (changes.attributes !== undefined) {
    sets.push(sql.fragment`attributes = ${sql.jsonb(changes.attributes)}`);
  }
  if (changes.status !== undefined) {
    sets.push(sql.fragment`status = ${changes.status}`);
    sets.push(
      changes.status === 'deleted'
        ? sql.fragment`deleted_at = now()`
        : sql.fragment`deleted_at = NULL`,
    );
  }
  return toOrganization(
    await db.one(sql.type(organizationRow)`
      UPDATE organizations SET ${sql.join(sets, sql.fragment`, `)}
      WHERE id = ${id}
      RETURNING ${COLUMNS}`),
  );
}

/**
 * The live (not deleted) organisation with this slug, or null; `lock` as for
 * getOrganizationById. Slugs are unique among live organisations, so there is at most one.
 */
export async function findOrganizationBySlug(
  db: Db,
  slug: string,
  options: { lock?: 'update' | 'share' } = {},
): Promise<Organization | null> {
  const lock =
    options.lock === 'update'
      ? sql.fragment`FOR UPDATE`
      : options.lock === 'share'
        ? sql.fragment`FOR SHARE`
        : sql.fragment``;
  const row = await db.maybeOne(sql.type(organizationRow)`
    SELECT ${COLUMNS} FROM organizations WHERE slug = ${slug} AND status <> 'deleted' ${lock}`);
  return row === null ? null : toOrganization(row);
}

/**
 * Inserts an active organisation unless a live one has the slug: then null and nothing is
 * written, without aborting the transaction (an import's upsert, racing another import).
 */
export async function insertOrganizationUnlessSlugTaken(
  db: Db,
  org: NewOrganization,
): Promise<Organization | null> {
  const row = await db.maybeOne(sql.type(organizationRow)`
    INSERT INTO organizations (slug, display_name, attributes)
    VALUES (${org.slug}, ${org.displayName}, ${sql.jsonb(org.attributes)})
    ON CONFLICT (slug) WHERE status <> 'deleted' DO NOTHING
    RETURNING ${COLUMNS}`);
  return row === null ? null : toOrganization(row);
}
