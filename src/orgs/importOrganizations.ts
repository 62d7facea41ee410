import type { AuditScope } from '../admin/AuditScope.ts';
import { checkImportBatchSize } from '../admin/importBatch.ts';
import { isViolation, normalizeDisplayName } from '../auth/normalize.ts';
import type { NewOrganization, Organization } from '../domain/Organization.ts';
import { type ImportRowFailure, rowValidationFailure } from '../errors/importErrorReason.ts';
import type { Db } from '../storage/Db.ts';
import {
  findOrganizationBySlug,
  insertOrganizationUnlessSlugTaken,
  updateOrganization,
} from '../storage/organizations.ts';
import { normalizeAttributes, normalizeSlug } from './checkOrgFields.ts';

/** The most rows one ImportOrganizations call takes. */
export const MAX_ORGANIZATION_IMPORT = 500;

/** One row as the transport read it (ImportedOrganization). */
export interface ImportOrganizationEntry {
  slug: string;
  displayName: string;
  attributes: Record<string, string>;
}

/** What the import did with a row that did not fail. */
export type ImportOutcome = 'created' | 'updated' | 'unchanged';

/** The outcome of one row, in request order. */
export type ImportOrganizationResult =
  | { index: number; outcome: ImportOutcome; organizationId: string }
  | { index: number; outcome: 'failed'; failure: ImportRowFailure };

/** A row as stored, or why it cannot be imported (every fault of the row in the message). */
function checkEntry(e: ImportOrganizationEntry): NewOrganization | ImportRowFailure {
  const slug = normalizeSlug(e.slug);
  const displayName = normalizeDisplayName(e.displayName);
  const attributes = normalizeAttributes(e.attributes);
  if (isViolation(slug) || isViolation(displayName) || Array.isArray(attributes)) {
    const violations = [slug, displayName].filter(isViolation);
    if (Array.isArray(attributes)) violations.push(...attributes);
    return {
      ...rowValidationFailure(violations[0] ?? { field: 'slug', description: 'invalid' }),
      message: violations.map((v) => `${v.field}: ${v.description}`).join('. '),
    };
  }
  return { slug, displayName, attributes };
}

/** Whether two attribute maps hold the same keys and values. */
function sameAttributes(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/**
 * Creates or updates the organisation with the row's slug. The live organisation of that slug
 * is locked first, so a concurrent import or update waits; when there is none, the insert
 * yields to one a concurrent import committed meanwhile (ON CONFLICT DO NOTHING), which is then
 * updated like any existing one.
 */
async function upsertOrganization(
  tx: Db,
  row: NewOrganization,
): Promise<{ outcome: ImportOutcome; organization: Organization }> {
  let existing = await findOrganizationBySlug(tx, row.slug, { lock: 'update' });
  if (existing === null) {
    const created = await insertOrganizationUnlessSlugTaken(tx, row);
    if (created !== null) return { outcome: 'created', organization: created };
    existing = await findOrganizationBySlug(tx, row.slug, { lock: 'update' });
    if (existing === null) throw new Error(`organisation ${row.slug} vanished during an import`);
  }
  if (
    existing.displayName === row.displayName &&
    sameAttributes(existing.attributes, row.attributes)
  ) {
    return { outcome: 'unchanged', organization: existing };
  }
  const updated = await updateOrganization(tx, existing.id, {
    displayName: row.displayName,
    attributes: row.attributes,
  });
  return { outcome: 'updated', organization: updated };
}

/**
 * Upserts up to 500 organisations by slug (ImportOrganizations). Every row is checked before
 * the transaction; a slug given by an earlier row fails the later one (two source records for
 * one organisation is a fault of the source, not something to resolve by order). All rows are
 * written in ONE transaction with the call's audit event (counts only), so running the same
 * import again changes nothing and reports every row unchanged.
 */
export async function importOrganizations(
  audit: AuditScope,
  entries: readonly ImportOrganizationEntry[],
): Promise<ImportOrganizationResult[]> {
  checkImportBatchSize(entries.length, 'organizations', 'organizations', MAX_ORGANIZATION_IMPORT);
  const firstIndex = new Map<string, number>();
  const checked = entries.map((e, index) => {
    const row = checkEntry(e);
    if ('reason' in row) return row;
    const earlier = firstIndex.get(row.slug);
    if (earlier !== undefined) {
      return rowValidationFailure({
        field: 'slug',
        description: `the slug of row ${earlier}: at most one row per organisation`,
      });
    }
    firstIndex.set(row.slug, index);
    return row;
  });
  // Built inside the transaction: a retried transaction (deadlock) starts from scratch.
  return audit.transaction(async (tx) => {
    const results: ImportOrganizationResult[] = [];
    for (const [index, row] of checked.entries()) {
      if ('reason' in row) {
        results.push({ index, outcome: 'failed', failure: row });
        continue;
      }
      const { outcome, organization } = await upsertOrganization(tx, row);
      results.push({ index, outcome, organizationId: organization.id });
    }
    audit.note({ details: { requested: entries.length, ...countOutcomes(results) } });
    return results;
  });
}

/** How many results had each outcome: the counts of the response and of the audit event. */
export function countOutcomes(results: readonly { outcome: ImportOutcome | 'failed' }[]) {
  const count = (o: ImportOutcome | 'failed') => results.filter((r) => r.outcome === o).length;
  return {
    created: count('created'),
    updated: count('updated'),
    unchanged: count('unchanged'),
    failed: count('failed'),
  };
}
