import type { AdminDeps } from '../admin/AdminDeps.ts';
import type { AuditScope } from '../admin/AuditScope.ts';
import type { Member, Organization } from '../domain/Organization.ts';
import type { Permission, Role } from '../domain/Role.ts';
import {
  type ImportMembershipEntry,
  type ImportMembershipResult,
  importMemberships,
} from './importMemberships.ts';
import {
  type ImportOrganizationEntry,
  type ImportOrganizationResult,
  importOrganizations,
} from './importOrganizations.ts';
import {
  addMember,
  listMembers,
  type MemberInput,
  removeMember,
  setMemberRoles,
} from './members.ts';
import {
  type CreateOrganizationInput,
  createOrganization,
  deleteOrganization,
  getOrganization,
  type ListOrganizationsInput,
  listOrganizations,
  type UpdateOrganizationInput,
  updateOrganization,
} from './organizations.ts';
import {
  type CreateRoleInput,
  createRole,
  definePermission,
  deleteRole,
  getRole,
  listPermissions,
  listRoles,
  type UpdateRoleInput,
  updateRole,
} from './roles.ts';

/**
 * The OrganizationAdminService use cases bound to their dependencies. Authorization (the
 * `admin` role) and the call's one audit event are the request path's (each RPC's call
 * policy); state changes take its AuditScope, so the change and its audit row commit together.
 */
export interface OrganizationAdminService {
  definePermission(
    audit: AuditScope,
    input: { name: string; description: string },
  ): Promise<Permission>;
  listPermissions(): Promise<{ permissions: Permission[]; truncated: boolean }>;
  createRole(audit: AuditScope, input: CreateRoleInput): Promise<Role>;
  getRole(roleId: string): Promise<Role>;
  /** `scope`: 'global' | 'organization', or null for both. */
  listRoles(scope: string | null): Promise<{ roles: Role[]; truncated: boolean }>;
  updateRole(audit: AuditScope, input: UpdateRoleInput): Promise<Role>;
  deleteRole(audit: AuditScope, roleId: string): Promise<void>;
  createOrganization(audit: AuditScope, input: CreateOrganizationInput): Promise<Organization>;
  getOrganization(organizationId: string): Promise<Organization>;
  listOrganizations(
    input: ListOrganizationsInput,
  ): Promise<{ organizations: Organization[]; nextPageToken: string }>;
  updateOrganization(audit: AuditScope, input: UpdateOrganizationInput): Promise<Organization>;
  deleteOrganization(audit: AuditScope, organizationId: string): Promise<void>;
  addMember(
    audit: AuditScope,
    input: MemberInput & { roleIds: readonly string[] },
  ): Promise<Member>;
  listMembers(input: {
    organizationId: string;
    pageSize: number;
    pageToken: string;
  }): Promise<{ members: Member[]; nextPageToken: string }>;
  removeMember(audit: AuditScope, input: MemberInput): Promise<void>;
  setMemberRoles(
    audit: AuditScope,
    input: MemberInput & { roleIds: readonly string[] },
  ): Promise<Member>;
  // Imports (issue 14, phase 2).
  importOrganizations(
    audit: AuditScope,
    entries: readonly ImportOrganizationEntry[],
  ): Promise<ImportOrganizationResult[]>;
  importMemberships(
    audit: AuditScope,
    entries: readonly ImportMembershipEntry[],
  ): Promise<ImportMembershipResult[]>;
}

/** Binds the organisation use cases to the reads' pool and the page-token codec. */
export function createOrganizationAdminService(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'>,
): OrganizationAdminService {
  return {
    definePermission,
    listPermissions: () => listPermissions(deps),
    createRole,
    getRole: (id) => getRole(deps, id),
    listRoles: (scope) => listRoles(deps, scope),
    updateRole,
    deleteRole,
    createOrganization,
    getOrganization: (id) => getOrganization(deps, id),
    listOrganizations: (input) => listOrganizations(deps, input),
    updateOrganization,
    deleteOrganization,
    addMember,
    listMembers: (input) => listMembers(deps, input),
    removeMember,
    setMemberRoles,
    // Imports (issue 14, phase 2).
    importOrganizations,
    importMemberships,
  };
}
