import type { AdminDeps } from '../admin/AdminDeps.ts';
import type { AuditScope } from '../admin/AuditScope.ts';
import type { AdmitAccount } from '../auth/AuthDeps.ts';
import type { Principal } from '../auth/Principal.ts';
import type { CallAccess } from '../domain/CallAccess.ts';
import type { Invitation } from '../domain/Invitation.ts';
import type { Member, Organization } from '../domain/Organization.ts';
import type { Permission, Role } from '../domain/Role.ts';
import type { AccountMail } from '../mail/createAccountMail.ts';
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
  type CreateInvitationInput,
  createInvitation,
  listInvitations,
  revokeInvitation,
} from './invitations.ts';
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
 * `admin` role, or `org:manage` in the organisation for members and invitations) and the
 * call's one audit event are the request path's (each RPC's call policy); state changes take
 * its AuditScope, so the change and its audit row commit together. Member and invitation use
 * cases take the call's CallAccess: a delegated caller is bound by the rules of
 * src/orgs/delegatedRules.ts, a global admin is not.
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
    access: CallAccess,
    input: MemberInput & { roleIds: readonly string[] },
  ): Promise<Member>;
  listMembers(
    access: CallAccess,
    input: { organizationId: string; pageSize: number; pageToken: string },
  ): Promise<{ members: Member[]; nextPageToken: string }>;
  removeMember(audit: AuditScope, access: CallAccess, input: MemberInput): Promise<void>;
  setMemberRoles(
    audit: AuditScope,
    access: CallAccess,
    input: MemberInput & { roleIds: readonly string[] },
  ): Promise<Member>;
  createInvitation(
    ctx: {
      audit: AuditScope;
      access: CallAccess;
      principal: Principal;
      admitAccount: AdmitAccount;
    },
    input: CreateInvitationInput,
  ): Promise<Invitation>;
  listInvitations(
    access: CallAccess,
    input: { organizationId: string; pageSize: number; pageToken: string },
  ): Promise<{ invitations: Invitation[]; nextPageToken: string }>;
  revokeInvitation(
    audit: AuditScope,
    access: CallAccess,
    input: { organizationId: string; invitationId: string },
  ): Promise<Invitation>;
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

/** Binds the organisation use cases to the reads' pool, the page-token codec and the mail. */
export function createOrganizationAdminService(
  deps: Pick<AdminDeps, 'pool' | 'pageTokens'> & { mail: AccountMail },
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
    listMembers: (access, input) => listMembers(deps, access, input),
    removeMember,
    setMemberRoles,
    createInvitation: (ctx, input) => createInvitation(deps, ctx, input),
    listInvitations: (access, input) => listInvitations(deps, access, input),
    revokeInvitation,
    // Imports (issue 14, phase 2).
    importOrganizations,
    importMemberships,
  };
}
