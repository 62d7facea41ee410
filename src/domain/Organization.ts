/** Where an organisation is in its lifecycle; 'deleted' is a soft delete (the row stays). */
export type OrganizationStatus = 'active' | 'disabled' | 'deleted';

/** A tenant: users and service accounts are its members. */
export interface Organization {
  id: string;
  /** Unique among organisations not deleted: `[a-z0-9][a-z0-9-]{1,62}`. */
  slug: string;
  displayName: string;
  /** Small string map (at most 32 keys, values at most 256 characters). */
  attributes: Record<string, string>;
  status: OrganizationStatus;
  createdAt: Date;
  updatedAt: Date;
}

/** An organisation to create (already validated). */
export interface NewOrganization {
  slug: string;
  displayName: string;
  attributes: Record<string, string>;
}

/** Who a membership is of: a user or a service account. */
export type MemberRef = { kind: 'user'; id: string } | { kind: 'service_account'; id: string };

/** A user's or service account's membership in one organisation, with its organisation roles. */
export interface Member {
  id: string;
  organizationId: string;
  member: MemberRef;
  /** Role ids of scope 'organization', sorted. */
  roleIds: string[];
  createdAt: Date;
}
