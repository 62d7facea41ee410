/**
 * How a caller got past its call policy's role and permission check: by the required role (a
 * global admin), or by the required permission in the organisation the request names (a
 * delegated administrator, bound by the rules of that organisation).
 */
export type CallAccess =
  | { kind: 'role' }
  | {
      kind: 'permission';
      /** The organisation the request names; the caller may act in it only. */
      organizationId: string;
      /** Every permission the caller holds there (global and membership roles), sorted. */
      permissions: readonly string[];
    }
  | {
      /** By the required permission granted by a global role (a policy naming no organisation). */
      kind: 'global_permission';
      /** Every permission the caller's global roles grant, sorted. */
      permissions: readonly string[];
    };
