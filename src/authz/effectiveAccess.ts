import type { PermissionGrants } from '../domain/PermissionGrants.ts';
import { actingRoles } from './decidePermission.ts';

/** What a credential may do now, as ValidateToken answers it. */
export interface EffectiveAccess {
  /** The membership's organisation role names in the organisation asked about, sorted. */
  organizationRoles: string[];
  /** Sorted, distinct permission names: the acting global roles' ∪ the membership roles'. */
  permissions: string[];
}

/**
 * The effective access of `grants` (read for the credential's organisation, or none): the
 * acting global roles' permissions (narrowed to `keyRoles` for an API key) and, while the
 * organisation is active and the subject a member of it, the membership roles and what they
 * grant. Nothing for an inactive account.
 */
export function effectiveAccess(
  grants: PermissionGrants,
  keyRoles: readonly string[] | null,
): EffectiveAccess {
  if (!grants.accountActive) return { organizationRoles: [], permissions: [] };
  const roles = actingRoles(grants, keyRoles);
  const permissions = new Set(
    grants.globalGrants.filter((g) => roles.includes(g.role)).map((g) => g.permission),
  );
  const org = grants.organization;
  const inOrganization = org !== null && org.status === 'active' && org.member;
  if (inOrganization) for (const g of org.grants) permissions.add(g.permission);
  return {
    organizationRoles: inOrganization ? org.roles : [],
    permissions: [...permissions].sort(),
  };
}
