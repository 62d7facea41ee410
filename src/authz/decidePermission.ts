import type { Principal } from '../auth/Principal.ts';
import type { AuthzSubject, PermissionGrants } from '../domain/PermissionGrants.ts';

/** Why a check came out as it did (gatehouse.authz.v1.DecisionReason, by suffix). */
export type DecisionReason =
  | 'global_role'
  | 'organization_role'
  | 'not_granted'
  | 'not_a_member'
  | 'organization_disabled'
  | 'organization_not_found'
  | 'credential_inactive'
  | 'principal_inactive';

/** The answer of one permission check. */
export interface PermissionDecision {
  allowed: boolean;
  reason: DecisionReason;
  /** For people; not a stable format. */
  explanation: string;
}

/** A denial with its reason. */
export const denied = (reason: DecisionReason, explanation: string): PermissionDecision => ({
  allowed: false,
  reason,
  explanation,
});

/**
 * The global role names a principal acts with now: the account's, narrowed to `keyRoles` when
 * it acts through an API key (the key's roles its owner holds), all of them otherwise.
 */
export function actingRoles(grants: PermissionGrants, keyRoles: readonly string[] | null) {
  return keyRoles === null ? grants.roles : grants.roles.filter((r) => keyRoles.includes(r));
}

/**
 * Decides whether `permission` is held: by a global role of `roles` (anywhere, even in an
 * organisation that is disabled or that the principal is not a member of), else by a role of
 * the membership in the organisation asked about while it is active. The `admin` role is no
 * exception: it grants what its global role row lists, like any other.
 */
export function decidePermission(
  grants: PermissionGrants,
  roles: readonly string[],
  permission: string,
): PermissionDecision {
  if (!grants.accountActive) {
    return denied('principal_inactive', 'the user or service account is not active');
  }
  const global = grants.globalGrants.find(
    (g) => g.permission === permission && roles.includes(g.role),
  );
  if (global !== undefined) {
    return {
      allowed: true,
      reason: 'global_role',
      explanation: `granted by the global role ${global.role}`,
    };
  }
  const org = grants.organization;
  if (org === null) {
    return denied('not_granted', `no global role grants ${permission}`);
  }
  if (org.status === 'not_found' || org.status === 'deleted') {
    return denied('organization_not_found', 'no such organization');
  }
  if (org.status === 'disabled')
    return denied('organization_disabled', 'the organization is disabled');
  if (!org.member) return denied('not_a_member', 'not a member of the organization');
  const member = org.grants.find((g) => g.permission === permission);
  if (member !== undefined) {
    return {
      allowed: true,
      reason: 'organization_role',
      explanation: `granted by the organization role ${member.role}`,
    };
  }
  return denied('not_granted', `no role of the membership or global role grants ${permission}`);
}

/** The subject and key roles (null: all of the account's) a principal acts with. */
export interface Acting {
  subject: AuthzSubject;
  keyRoles: readonly string[] | null;
}

/**
 * Whose grants `principal` acts with: a session its user's, all their global roles; an API
 * key its owner's, narrowed to the key's roles.
 */
export function actingOf(principal: Principal): Acting {
  switch (principal.kind) {
    case 'user':
      return { subject: { kind: 'user', id: principal.userId }, keyRoles: null };
    case 'user_api_key':
      return { subject: { kind: 'user', id: principal.userId }, keyRoles: principal.roles };
    case 'service_account':
      return {
        subject: { kind: 'service_account', id: principal.serviceAccountId },
        keyRoles: principal.roles,
      };
  }
}
