/** A principal whose permissions are checked: a user or a service account, by id. */
export interface AuthzSubject {
  kind: 'user' | 'service_account';
  id: string;
}

/** One permission and the role that grants it. */
export interface RoleGrant {
  role: string;
  permission: string;
}

/**
 * What a subject holds as stored now, globally and (when asked) in one organisation: the input
 * of every permission decision, cached briefly per (subject, organisation).
 */
export interface PermissionGrants {
  /** False for an unknown, disabled or deleted account. */
  accountActive: boolean;
  /** The account's global role names. */
  roles: string[];
  /** What those roles grant (global roles only). */
  globalGrants: RoleGrant[];
  /** Null when no organisation was asked about. */
  organization: {
    status: 'active' | 'disabled' | 'deleted' | 'not_found';
    member: boolean;
    /** Names of the membership's organisation roles, sorted; empty when not a member. */
    roles: string[];
    /** What the membership's organisation roles grant; empty when not a member. */
    grants: RoleGrant[];
  } | null;
}
