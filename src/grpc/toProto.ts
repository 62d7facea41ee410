import type { IssuedTokens } from '../auth/issueSession.ts';
import type { ValidatedToken } from '../auth/validateToken.ts';
import type { ApiKey } from '../domain/ApiKey.ts';
import { type AuditEvent, auditActionCode } from '../domain/AuditEvent.ts';
import type { Invitation, InvitationStatus as InvitationState } from '../domain/Invitation.ts';
import type { Member, Organization, OrganizationStatus as Status } from '../domain/Organization.ts';
import type { Permission, Role, RoleScope as Scope } from '../domain/Role.ts';
import type { Passkey } from '../domain/SecondFactor.ts';
import type { ServiceAccount } from '../domain/ServiceAccount.ts';
import type { Session } from '../domain/Session.ts';
import type { ManagedUser, User } from '../domain/User.ts';
import type { WebhookDelivery, WebhookEndpoint } from '../domain/Webhook.ts';
import {
  type Invitation as InvitationMessage,
  InvitationStatus,
  type Member as MemberMessage,
  type Organization as OrganizationMessage,
  OrganizationStatus,
  type Permission as PermissionMessage,
  type Role as RoleMessage,
  RoleScope,
} from '../gen/gatehouse/admin/v1/organization_admin_service.ts';
import {
  type ServiceAccount as ServiceAccountMessage,
  ServiceAccountStatus,
} from '../gen/gatehouse/admin/v1/service_account_admin_service.ts';
import {
  type AuditEvent as AuditEventMessage,
  AuditOutcome,
  type ManagedUser as ManagedUserMessage,
} from '../gen/gatehouse/admin/v1/user_admin_service.ts';
import {
  type WebhookDelivery as WebhookDeliveryMessage,
  WebhookDeliveryStatus,
  type WebhookEndpoint as WebhookEndpointMessage,
} from '../gen/gatehouse/admin/v1/webhook_admin_service.ts';
import type { ApiKey as ApiKeyMessage } from '../gen/gatehouse/auth/v1/api_key.ts';
import {
  type Passkey as PasskeyMessage,
  PrincipalType,
  type Session as SessionMessage,
  type Tokens,
  type User as UserMessage,
  UserStatus,
  type ValidateTokenResponse,
} from '../gen/gatehouse/auth/v1/auth_service.ts';

const STATUS = {
  active: UserStatus.USER_STATUS_ACTIVE,
  disabled: UserStatus.USER_STATUS_DISABLED,
  deleted: UserStatus.USER_STATUS_DELETED,
} as const;

/** The public view of a user: each field named here, so nothing reaches the wire by accident. */
export function userToProto(u: User): UserMessage {
  return {
    id: u.id,
    email: u.email,
    ...(u.username === null ? {} : { username: u.username }),
    displayName: u.displayName,
    roles: u.roles,
    emailVerified: u.emailVerified,
    status: STATUS[u.status],
    createdAt: u.createdAt,
    updatedAt: u.updatedAt,
    ...(u.lastLoginAt === null ? {} : { lastLoginAt: u.lastLoginAt }),
  };
}

/** The admin view of a user: lockout state and the hash ALGORITHM, never the hash. */
export function managedUserToProto(m: ManagedUser): ManagedUserMessage {
  return {
    user: userToProto(m.user),
    failedLoginCount: m.failedLoginCount,
    ...(m.lockedUntil === null ? {} : { lockedUntil: m.lockedUntil }),
    lockoutCount: m.lockoutCount,
    hasPassword: m.passwordAlgorithm !== null,
    passwordAlgorithm: m.passwordAlgorithm ?? '',
  };
}

/** A passkey as the API shows it: never its public key. */
export function passkeyToProto(p: Passkey): PasskeyMessage {
  return {
    id: p.id,
    displayName: p.displayName,
    credentialId: p.credentialId.toString('base64url'),
    aaguid: p.aaguid,
    transports: p.transports,
    multiDevice: p.multiDevice,
    backedUp: p.backedUp,
    createTime: p.createdAt,
    ...(p.lastUsedAt === null ? {} : { lastUsedTime: p.lastUsedAt }),
  };
}

export function sessionToProto(s: Session, currentSessionId: string | undefined): SessionMessage {
  return {
    id: s.id,
    createdAt: s.createdAt,
    lastUsedAt: s.lastUsedAt,
    expiresAt: s.expiresAt,
    idleExpiresAt: s.idleExpiresAt,
    ipAddress: s.ipAddress,
    userAgent: s.userAgent,
    current: s.id === currentSessionId,
    organizationId: s.organizationId ?? '',
  };
}

export function tokensToProto(t: IssuedTokens): Tokens {
  return {
    accessToken: t.accessToken,
    accessTokenExpiresAt: t.accessTokenExpiresAt,
    refreshToken: t.refreshToken,
    refreshTokenExpiresAt: t.refreshTokenExpiresAt,
    tokenType: 'Bearer',
    sessionId: t.sessionId,
  };
}

const OUTCOME = {
  success: AuditOutcome.AUDIT_OUTCOME_SUCCESS,
  failure: AuditOutcome.AUDIT_OUTCOME_FAILURE,
  denied: AuditOutcome.AUDIT_OUTCOME_DENIED,
} as const;

export function auditEventToProto(e: AuditEvent): AuditEventMessage {
  return {
    id: String(e.id),
    occurredAt: e.occurredAt,
    actorUserId: e.actorUserId ?? '',
    subjectUserId: e.subjectUserId ?? '',
    action: e.action,
    actionCode: auditActionCode(e.action),
    outcome: OUTCOME[e.outcome],
    ipAddress: e.ipAddress,
    userAgent: e.userAgent,
    requestId: e.requestId,
    detailsJson: JSON.stringify(e.details),
    actorServiceAccountId: e.actorServiceAccountId ?? '',
    apiKeyId: e.apiKeyId ?? '',
  };
}

const PRINCIPAL_TYPE = {
  user_session: PrincipalType.PRINCIPAL_TYPE_USER_SESSION,
  user_api_key: PrincipalType.PRINCIPAL_TYPE_USER_API_KEY,
  service_account: PrincipalType.PRINCIPAL_TYPE_SERVICE_ACCOUNT,
} as const;

/** ValidateToken's answer: every field empty/unset unless active. */
export function introspectionToProto(v: ValidatedToken | null): ValidateTokenResponse {
  if (v === null) {
    return {
      active: false,
      userId: '',
      sessionId: '',
      roles: [],
      tokenId: '',
      issuer: '',
      audience: [],
      scope: '',
      principalType: PrincipalType.PRINCIPAL_TYPE_UNSPECIFIED,
      apiKeyId: '',
      serviceAccountId: '',
      organizationId: '',
      organizationRoles: [],
      permissions: [],
      amr: [],
      mfaEnrollmentRequired: false,
    };
  }
  return {
    active: true,
    userId: v.userId ?? '',
    sessionId: v.sessionId ?? '',
    roles: v.roles,
    ...(v.expiresAt === null ? {} : { expiresAt: v.expiresAt }),
    ...(v.issuedAt === null ? {} : { issuedAt: v.issuedAt }),
    tokenId: v.tokenId,
    issuer: v.issuer,
    audience: v.audience,
    scope: '',
    principalType: PRINCIPAL_TYPE[v.principalType],
    apiKeyId: v.apiKeyId ?? '',
    serviceAccountId: v.serviceAccountId ?? '',
    organizationId: v.organizationId ?? '',
    organizationRoles: v.organizationRoles,
    permissions: v.permissions,
    amr: v.amr,
    ...(v.authTime === null ? {} : { authTime: v.authTime }),
    mfaEnrollmentRequired: v.mfaEnrollmentRequired,
  };
}

const SERVICE_ACCOUNT_STATUS = {
  active: ServiceAccountStatus.SERVICE_ACCOUNT_STATUS_ACTIVE,
  disabled: ServiceAccountStatus.SERVICE_ACCOUNT_STATUS_DISABLED,
  deleted: ServiceAccountStatus.SERVICE_ACCOUNT_STATUS_DELETED,
} as const;

export function serviceAccountToProto(a: ServiceAccount): ServiceAccountMessage {
  return {
    id: a.id,
    name: a.name,
    displayName: a.displayName,
    description: a.description,
    roles: a.roles,
    status: SERVICE_ACCOUNT_STATUS[a.status],
    createTime: a.createdAt,
    updateTime: a.updatedAt,
  };
}

/** A key as clients see it: its display prefix, never its secret (the domain type has none). */
export function apiKeyToProto(k: ApiKey): ApiKeyMessage {
  return {
    id: k.id,
    serviceAccountId: k.owner.kind === 'service_account' ? k.owner.id : '',
    userId: k.owner.kind === 'user' ? k.owner.id : '',
    displayName: k.displayName,
    roles: k.roles,
    displayPrefix: k.displayPrefix,
    createTime: k.createdAt,
    ...(k.expiresAt === null ? {} : { expireTime: k.expiresAt }),
    ...(k.revokedAt === null ? {} : { revokeTime: k.revokedAt }),
    ...(k.lastUsedAt === null ? {} : { lastUsedTime: k.lastUsedAt }),
  };
}

/** Domain role scope -> wire enum. */
export const ROLE_SCOPE: Record<Scope, RoleScope> = {
  global: RoleScope.ROLE_SCOPE_GLOBAL,
  organization: RoleScope.ROLE_SCOPE_ORGANIZATION,
};
/** Domain organisation status -> wire enum. */
export const ORGANIZATION_STATUS: Record<Status, OrganizationStatus> = {
  active: OrganizationStatus.ORGANIZATION_STATUS_ACTIVE,
  disabled: OrganizationStatus.ORGANIZATION_STATUS_DISABLED,
  deleted: OrganizationStatus.ORGANIZATION_STATUS_DELETED,
};

/** A catalog entry as clients see it. */
export const permissionToProto = (p: Permission): PermissionMessage => ({
  name: p.name,
  description: p.description,
  createTime: p.createdAt,
});

/** A role with its permission names. */
export const roleToProto = (r: Role): RoleMessage => ({
  id: r.id,
  name: r.name,
  scope: ROLE_SCOPE[r.scope],
  description: r.description,
  permissions: r.permissions,
  createTime: r.createdAt,
  updateTime: r.updatedAt,
});

/** An organisation; its attributes are a plain string map. */
export const organizationToProto = (o: Organization): OrganizationMessage => ({
  id: o.id,
  slug: o.slug,
  displayName: o.displayName,
  attributes: o.attributes,
  status: ORGANIZATION_STATUS[o.status],
  createTime: o.createdAt,
  updateTime: o.updatedAt,
});

/** A membership: exactly one of user_id and service_account_id is set. */
export const memberToProto = (m: Member): MemberMessage => ({
  id: m.id,
  organizationId: m.organizationId,
  userId: m.member.kind === 'user' ? m.member.id : '',
  serviceAccountId: m.member.kind === 'service_account' ? m.member.id : '',
  roleIds: m.roleIds,
  createTime: m.createdAt,
});

const INVITATION_STATUS: Record<InvitationState, InvitationStatus> = {
  open: InvitationStatus.INVITATION_STATUS_OPEN,
  accepted: InvitationStatus.INVITATION_STATUS_ACCEPTED,
  revoked: InvitationStatus.INVITATION_STATUS_REVOKED,
  expired: InvitationStatus.INVITATION_STATUS_EXPIRED,
};

/** An invitation, never with its token. */
export const invitationToProto = (i: Invitation): InvitationMessage => ({
  id: i.id,
  organizationId: i.organizationId,
  email: i.emailNormalized,
  roleIds: i.roleIds,
  status: INVITATION_STATUS[i.status],
  createTime: i.createdAt,
  expireTime: i.expiresAt,
  acceptTime: i.acceptedAt ?? undefined,
  acceptedByUserId: i.acceptedByUserId ?? '',
  invitedByUserId: i.invitedByUserId ?? '',
  invitedByServiceAccountId: i.invitedByServiceAccountId ?? '',
  revokeTime: i.revokedAt ?? undefined,
});

/** A webhook endpoint as admins see it: never its secret (the domain type has none). */
export function webhookEndpointToProto(e: WebhookEndpoint): WebhookEndpointMessage {
  return {
    id: e.id,
    url: e.url,
    eventTypes: e.eventTypes,
    enabled: e.enabled,
    description: e.description,
    createTime: e.createdAt,
    updateTime: e.updatedAt,
    previousSecretExpireTime: e.previousSecretExpiresAt ?? undefined,
  };
}

const WEBHOOK_DELIVERY_STATUS = {
  pending: WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_PENDING,
  succeeded: WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_SUCCEEDED,
  failed: WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_FAILED,
  dead: WebhookDeliveryStatus.WEBHOOK_DELIVERY_STATUS_DEAD,
} as const;

export function webhookDeliveryToProto(d: WebhookDelivery): WebhookDeliveryMessage {
  return {
    id: d.id,
    webhookEndpointId: d.endpointId,
    eventId: d.eventId,
    eventType: d.eventType,
    status: WEBHOOK_DELIVERY_STATUS[d.status],
    attempts: d.attempts,
    nextAttemptTime: d.nextAttemptAt ?? undefined,
    lastStatusCode: d.lastStatusCode ?? 0,
    lastError: d.lastError ?? '',
    createTime: d.createdAt,
    updateTime: d.updatedAt,
    deliveredTime: d.deliveredAt ?? undefined,
  };
}
