/** Where a service account is in its lifecycle; 'deleted' is a soft delete (the row stays). */
export type ServiceAccountStatus = 'active' | 'disabled' | 'deleted';

/**
 * A machine identity: a script, partner or service that authenticates with API keys instead of
 * a password. It holds no secret (its keys' secrets are shown once and stored only hashed), so
 * a value of this type can go anywhere.
 */
export interface ServiceAccount {
  id: string;
  /** Unique handle among accounts not deleted: `[a-z0-9][a-z0-9-]{1,62}`. */
  name: string;
  displayName: string;
  description: string;
  /** Sorted, no duplicates; its keys act with at most these. */
  roles: string[];
  status: ServiceAccountStatus;
  createdAt: Date;
  updatedAt: Date;
}

/** A service account to create (already validated). */
export interface NewServiceAccount {
  name: string;
  displayName: string;
  description: string;
  roles: readonly string[];
}
