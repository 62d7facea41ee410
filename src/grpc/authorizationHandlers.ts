import type {
  AuthorizationService,
  CheckedPrincipal,
  PermissionCheck,
} from '../authz/createAuthorizationService.ts';
import type { DecisionReason, PermissionDecision } from '../authz/decidePermission.ts';
import {
  type AuthorizationServiceServer,
  type CheckPermissionRequest,
  type CheckPermissionResponse,
  DecisionReason as DecisionReasonEnum,
} from '../gen/gatehouse/authz/v1/authorization_service.ts';
import type { UnaryHandlers } from './bindService.ts';

const REASONS: Record<DecisionReason, DecisionReasonEnum> = {
  global_role: DecisionReasonEnum.DECISION_REASON_GLOBAL_ROLE,
  organization_role: DecisionReasonEnum.DECISION_REASON_ORGANIZATION_ROLE,
  not_granted: DecisionReasonEnum.DECISION_REASON_NOT_GRANTED,
  not_a_member: DecisionReasonEnum.DECISION_REASON_NOT_A_MEMBER,
  organization_disabled: DecisionReasonEnum.DECISION_REASON_ORGANIZATION_DISABLED,
  organization_not_found: DecisionReasonEnum.DECISION_REASON_ORGANIZATION_NOT_FOUND,
  credential_inactive: DecisionReasonEnum.DECISION_REASON_CREDENTIAL_INACTIVE,
  principal_inactive: DecisionReasonEnum.DECISION_REASON_PRINCIPAL_INACTIVE,
};

/** A check message as the use case reads it: its oneofs as tagged values, or null. */
function toCheck(req: CheckPermissionRequest): PermissionCheck {
  const p = req.principal;
  let principal: CheckedPrincipal | null = null;
  if (p?.$case === 'credential') principal = { kind: 'credential', credential: p.value };
  else if (p?.$case === 'subject' && p.value.id !== undefined) {
    const id = p.value.id;
    principal = {
      kind: 'subject',
      subject:
        id.$case === 'userId'
          ? { kind: 'user', id: id.value }
          : { kind: 'service_account', id: id.value },
    };
  }
  return { principal, permission: req.permission, organizationId: req.organizationId };
}

function toResponse(d: PermissionDecision): CheckPermissionResponse {
  return { allowed: d.allowed, reason: REASONS[d.reason], explanation: d.explanation };
}

/**
 * AuthorizationService transport: messages to checks and decisions back. Authentication is the
 * call policy's; who may ask is the use case's first step.
 */
export function createAuthorizationHandlers(
  service: AuthorizationService,
): UnaryHandlers<AuthorizationServiceServer> {
  return {
    async checkPermission(req, ctx) {
      const [decision] = await service.checkPermissions(ctx.principal, [toCheck(req)], ctx.info);
      if (decision === undefined) throw new Error('one check, one decision');
      return toResponse(decision);
    },
    async batchCheckPermissions(req, ctx) {
      const decisions = await service.checkPermissions(
        ctx.principal,
        req.checks.map(toCheck),
        ctx.info,
      );
      return { results: decisions.map(toResponse) };
    },
  };
}
