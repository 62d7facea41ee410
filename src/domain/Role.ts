/**
 * Where a role applies: 'global' roles are granted by name through users.roles and
 * service_accounts.roles; 'organization' roles are granted per membership.
 */
export type RoleScope = 'global' | 'organization';

/** An entry of the permission catalog: `resource:action`. */
export interface Permission {
  name: string;
  description: string;
  createdAt: Date;
}

/** A named set of permissions; the name is unique per scope. */
export interface Role {
  id: string;
  name: string;
  scope: RoleScope;
  description: string;
  /** Sorted, no duplicates; every one is in the catalog. */
  permissions: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** A role to create (already validated). */
export interface NewRole {
  name: string;
  scope: RoleScope;
  description: string;
  permissions: readonly string[];
}
