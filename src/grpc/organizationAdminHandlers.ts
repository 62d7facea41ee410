import {
  type ImportedMembership,
  type ImportOutcome,
  type OrganizationAdminServiceServer,
  ImportOutcome as Outcome,
} from '../gen/gatehouse/admin/v1/organization_admin_service.ts';
import type { OrganizationAdminService } from '../orgs/createOrganizationAdminService.ts';
import type { ImportMembershipEntry } from '../orgs/importMemberships.ts';
import { countOutcomes } from '../orgs/importOrganizations.ts';
import type { UnaryHandlers } from './bindService.ts';
import {
  invitationToProto as invitation,
  memberToProto as member,
  organizationToProto as organization,
  permissionToProto as permission,
  roleToProto as role,
  ROLE_SCOPE as SCOPE,
  ORGANIZATION_STATUS as STATUS,
} from './toProto.ts';

/** A wire enum value as the use cases read it: its domain name, null for UNSPECIFIED (0). */
function fromWire(table: Record<string, number>, value: number): string | null {
  if (value === 0) return null;
  const found = Object.keys(table).find((k) => table[k] === value);
  return found ?? `${value}`;
}

/**
 * OrganizationAdminService transport: translates messages to use-case calls and back. The
 * admin role (or, for members and invitations, org:manage in the organisation), the budgets and
 * the one audit event per call are each RPC's call policy, applied before a handler runs; state
 * changes hand the call's audit scope on, and member and invitation calls how the caller got in.
 */
export function createOrganizationAdminHandlers(
  service: OrganizationAdminService,
): UnaryHandlers<OrganizationAdminServiceServer> {
  return {
    async definePermission(req, ctx) {
      const defined = await service.definePermission(ctx.audit, {
        name: req.name,
        description: req.description,
      });
      return { permission: permission(defined) };
    },
    async listPermissions() {
      const list = await service.listPermissions();
      return { permissions: list.permissions.map(permission), truncated: list.truncated };
    },
    async createRole(req, ctx) {
      const created = await service.createRole(ctx.audit, {
        name: req.name,
        scope: fromWire(SCOPE, req.scope),
        permissions: req.permissions,
        description: req.description,
      });
      return { role: role(created) };
    },
    async getRole(req) {
      return { role: role(await service.getRole(req.roleId)) };
    },
    async listRoles(req) {
      const list = await service.listRoles(fromWire(SCOPE, req.scope));
      return { roles: list.roles.map(role), truncated: list.truncated };
    },
    async updateRole(req, ctx) {
      const updated = await service.updateRole(ctx.audit, {
        role: req.role,
        paths: req.updateMask,
      });
      return { role: role(updated) };
    },
    async deleteRole(req, ctx) {
      await service.deleteRole(ctx.audit, req.roleId);
      return {};
    },
    async createOrganization(req, ctx) {
      const created = await service.createOrganization(ctx.audit, {
        slug: req.slug,
        displayName: req.displayName,
        attributes: req.attributes,
      });
      return { organization: organization(created) };
    },
    async getOrganization(req) {
      return { organization: organization(await service.getOrganization(req.organizationId)) };
    },
    async listOrganizations(req) {
      const page = await service.listOrganizations({
        pageSize: req.pageSize,
        pageToken: req.pageToken,
        status: fromWire(STATUS, req.status),
      });
      return {
        organizations: page.organizations.map(organization),
        nextPageToken: page.nextPageToken,
      };
    },
    async updateOrganization(req, ctx) {
      const org = req.organization;
      const updated = await service.updateOrganization(ctx.audit, {
        organization: org && { ...org, status: fromWire(STATUS, org.status) },
        paths: req.updateMask,
      });
      return { organization: organization(updated) };
    },
    async deleteOrganization(req, ctx) {
      await service.deleteOrganization(ctx.audit, req.organizationId);
      return {};
    },
    async addMember(req, ctx) {
      return { member: member(await service.addMember(ctx.audit, ctx.access, req)) };
    },
    async listMembers(req, ctx) {
      const page = await service.listMembers(ctx.access, req);
      return { members: page.members.map(member), nextPageToken: page.nextPageToken };
    },
    async removeMember(req, ctx) {
      await service.removeMember(ctx.audit, ctx.access, req);
      return {};
    },
    async setMemberRoles(req, ctx) {
      return { member: member(await service.setMemberRoles(ctx.audit, ctx.access, req)) };
    },

    // Invitations (delegated administration: admins, or org:manage in the organisation).
    async createInvitation(req, ctx) {
      const created = await service.createInvitation(ctx, req);
      return { invitation: invitation(created) };
    },
    async listInvitations(req, ctx) {
      const page = await service.listInvitations(ctx.access, req);
      return {
        invitations: page.invitations.map(invitation),
        nextPageToken: page.nextPageToken,
      };
    },
    async revokeInvitation(req, ctx) {
      return { invitation: invitation(await service.revokeInvitation(ctx.audit, ctx.access, req)) };
    },

    // --- Imports (issue 14, phase 2) ---
    async importOrganizations(req, ctx) {
      const results = await service.importOrganizations(ctx.audit, req.organizations);
      return {
        results: results.map((r) =>
          r.outcome === 'failed'
            ? { index: r.index, outcome: OUTCOME.failed, organizationId: '', ...failure(r.failure) }
            : {
                index: r.index,
                outcome: OUTCOME[r.outcome],
                organizationId: r.organizationId,
                ...NO_FAILURE,
              },
        ),
        ...counts(results),
      };
    },
    async importMemberships(req, ctx) {
      const results = await service.importMemberships(
        ctx.audit,
        req.memberships.map(membershipEntry),
      );
      return {
        results: results.map((r) =>
          r.outcome === 'failed'
            ? {
                index: r.index,
                outcome: OUTCOME.failed,
                membershipId: '',
                organizationId: r.organizationId,
                ...failure(r.failure),
              }
            : {
                index: r.index,
                outcome: OUTCOME[r.outcome],
                membershipId: r.membershipId,
                organizationId: r.organizationId,
                ...NO_FAILURE,
              },
        ),
        ...counts(results),
      };
    },
  };
}

// --- Imports (issue 14, phase 2) ---

const OUTCOME: Record<'created' | 'updated' | 'unchanged' | 'failed', ImportOutcome> = {
  created: Outcome.IMPORT_OUTCOME_CREATED,
  updated: Outcome.IMPORT_OUTCOME_UPDATED,
  unchanged: Outcome.IMPORT_OUTCOME_UNCHANGED,
  failed: Outcome.IMPORT_OUTCOME_FAILED,
};

const NO_FAILURE = { errorReason: '', errorField: '', errorMessage: '' };

const failure = (f: { reason: string; field: string; message: string }) => ({
  errorReason: f.reason,
  errorField: f.field,
  errorMessage: f.message,
});

/** The counts of an import response. */
function counts(results: readonly { outcome: keyof typeof OUTCOME }[]) {
  const c = countOutcomes(results);
  return {
    createdCount: c.created,
    updatedCount: c.updated,
    unchangedCount: c.unchanged,
    failedCount: c.failed,
  };
}

/** An ImportedMembership as the use case reads it: each oneof as a tagged value, or null. */
function membershipEntry(m: ImportedMembership): ImportMembershipEntry {
  const org = m.organization;
  const who = m.member;
  return {
    organization:
      org === undefined
        ? null
        : org.$case === 'organizationId'
          ? { kind: 'id', id: org.value }
          : { kind: 'slug', slug: org.value },
    member:
      who === undefined
        ? null
        : who.$case === 'userId'
          ? { kind: 'user_id', id: who.value }
          : who.$case === 'userEmail'
            ? { kind: 'user_email', email: who.value }
            : { kind: 'service_account_id', id: who.value },
    roles: m.roles,
  };
}
