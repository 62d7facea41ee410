import type { PrincipalKind } from '../auth/Principal.ts';
import type { AuditActionName } from '../domain/AuditEvent.ts';
import type { CallClass } from '../ratelimit/createRateLimitBudgets.ts';

/** Who may call an RPC (gatehouse.policy.v1.Caller). */
export type CallerPolicy = 'anonymous' | 'authenticated' | 'bearer_signature_only';

/**
 * The call policy of one RPC, read from its `(gatehouse.policy.v1.method_policy)` option and
 * validated at start (see loadMethodPolicies): the one place that decides who may call, what
 * the caller must hold, which budgets the call spends and how it is audited.
 */
export interface MethodPolicy {
  /** The gRPC path, `/gatehouse.auth.v1.AuthService/Login`, as grpc-js names the method. */
  path: string;
  caller: CallerPolicy;
  /** Accepted kinds of principal; empty unless `caller` is 'authenticated'. */
  principalKinds: readonly PrincipalKind[];
  /** A role the caller must hold now (checked in PostgreSQL), or null. */
  requiredRole: string | null;
  /**
   * A permission that admits the caller in the organisation the request names (instead of
   * `requiredRole`, when both are set), or null.
   */
  requiredPermission: PermissionRequirementPolicy | null;
  /** The per-source budget spent before the caller is checked, or null for none. */
  sourceBudget: CallClass | null;
  /** The per-account budget the use case spends ('login', ...; part of Redis keys), or null. */
  accountBudget: string | null;
  /** Whether a call made with an API key spends the key's budget (not for permission checks). */
  spendsKeyBudget: boolean;
  /**
   * Whether a session caller must have authenticated within the reauthentication window
   * (`requires_recent_auth`); other kinds of principal are exempt.
   */
  requiresRecentAuth: boolean;
  /** The one audit event written per call, whatever its outcome, or null. */
  audit: CallAuditPolicy | null;
}

export interface CallAuditPolicy {
  action: AuditActionName;
  /** Property path of the request field naming the subject user (`['user', 'id']`); may be empty. */
  subjectPath: readonly string[];
  /**
   * Property path of the request field naming the subject service account
   * (`['serviceAccountId']`), when the policy names one; recorded in the event's details.
   */
  serviceAccountPath?: readonly string[];
}

/**
 * `required_permission`: a permission held in the organisation the request names, or globally
 * (through global roles) when the policy names no organisation field.
 */
export interface PermissionRequirementPolicy {
  /** `resource:action`. */
  permission: string;
  /**
   * Property path of the request field naming the organisation (`['organizationId']`); empty:
   * the permission must be granted by a global role (no organisation is involved).
   */
  organizationPath: readonly string[];
}
