import { isIP } from 'node:net';
import { isApiKeyLike } from '../apiKeys/apiKeySecret.ts';
import type { RequestInfo } from '../auth/AuthDeps.ts';
import { type Introspection, introspectToken } from '../auth/introspectToken.ts';
import { isUuid } from '../auth/normalize.ts';
import type { Principal } from '../auth/Principal.ts';
import type { AuthorizationDeps } from '../authz/createAuthorizationService.ts';
import { actingOf, actingRoles, decidePermission } from '../authz/decidePermission.ts';
import type { ExtAuthzConfig } from '../config/extAuthzConfig.ts';
import type { AuthzSubject } from '../domain/PermissionGrants.ts';
import { AppError, invalidArgument } from '../errors/AppError.ts';
import { parseBearer } from '../grpc/bearerToken.ts';
import { type DeniedHttp, deniedHttp } from './deniedHttp.ts';

/** The permission a gateway's service account needs to call Check. */
export const GATEWAY_CHECK_PERMISSION = 'gateway:check';

/** The `context_extensions` keys a route may set (docs/envoy.md). */
export const ROUTE_PERMISSION_KEY = 'gatehouse_permission';
export const ROUTE_ORGANIZATION_KEY = 'gatehouse_organization';

const PERMISSION_NAME = /^(?=.{3,128}$)[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$/;

/** The HTTP request a gateway asks about, as the transport reads it from a CheckRequest. */
export interface CheckedHttpRequest {
  /** Header values by lower-case name (a repeated header's values joined with ','). */
  headers: ReadonlyMap<string, string>;
  /** The downstream client's address as the gateway saw it, if it sent one. */
  sourceAddress: string | null;
  /** The route's `context_extensions`. */
  contextExtensions: ReadonlyMap<string, string>;
}

/** A header the upstream request gets, replacing any value the client sent. */
export interface HeaderToSet {
  name: string;
  value: string;
}

/** What Check answers: let the request through with identity headers, or deny it. */
export type CheckOutcome =
  | { kind: 'allowed'; setHeaders: HeaderToSet[]; removeHeaders: string[] }
  | { kind: 'denied'; http: DeniedHttp };

export interface ExtAuthz {
  /**
   * Decides on `request` for the gateway `caller` (which must hold gateway:check, decided
   * before anything in the request is read). Throws INVALID_ARGUMENT for a route
   * configuration it cannot use (a bad permission or organisation in context_extensions).
   */
  check(caller: Principal, request: CheckedHttpRequest, info: RequestInfo): Promise<CheckOutcome>;
}

/** A route's requirement, read from its context_extensions. */
interface RouteRequirement {
  permission: string | null;
  organizationId: string | null;
}

function routeRequirement(extensions: ReadonlyMap<string, string>): RouteRequirement {
  const permission = extensions.get(ROUTE_PERMISSION_KEY)?.trim() ?? '';
  const organization = extensions.get(ROUTE_ORGANIZATION_KEY)?.trim().toLowerCase() ?? '';
  const field = (key: string) => `attributes.context_extensions[${key}]`;
  const violations = [];
  if (permission !== '' && !PERMISSION_NAME.test(permission)) {
    violations.push({
      field: field(ROUTE_PERMISSION_KEY),
      description: 'must be resource:action, lower case (e.g. bookings:read)',
    });
  }
  if (organization !== '' && !isUuid(organization)) {
    violations.push({ field: field(ROUTE_ORGANIZATION_KEY), description: 'must be a UUID' });
  }
  if (organization !== '' && permission === '') {
    violations.push({
      field: field(ROUTE_ORGANIZATION_KEY),
      description: `names the organisation of ${ROUTE_PERMISSION_KEY}, which is not set`,
    });
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return {
    permission: permission === '' ? null : permission,
    organizationId: organization === '' ? null : organization,
  };
}

/** The credential the request carries: from the first configured header present. */
function credentialOf(
  request: CheckedHttpRequest,
  headers: readonly string[],
): { header: string; credential: string | null } | null {
  for (const header of headers) {
    const value = request.headers.get(header);
    if (value === undefined || value.trim() === '') continue;
    if (header === 'authorization') {
      const bearer = parseBearer(value);
      return { header, credential: bearer.kind === 'token' ? bearer.token : null };
    }
    const credential = value.trim();
    return {
      header,
      credential: parseBearer(`Bearer ${credential}`).kind === 'token' ? credential : null,
    };
  }
  return null;
}

/**
 * Envoy ext_authz: resolves the checked request's bearer token or API key exactly as
 * ValidateToken does (introspectToken: signature, the revocation-aware session cache, the API
 * key cache), decides a route's permission as CheckPermission does (the permission cache), and
 * says which identity headers the upstream gets.
 */
export function createExtAuthz(deps: AuthorizationDeps, settings: ExtAuthzConfig): ExtAuthz {
  const names = settings.identityHeaders;
  const identityNames = Object.values(names);

  const requireGateway = async (caller: Principal) => {
    const { subject, keyRoles } = actingOf(caller);
    const grants = await deps.permissions.grants(subject, null);
    if (decidePermission(grants, actingRoles(grants, keyRoles), GATEWAY_CHECK_PERMISSION).allowed) {
      return;
    }
    throw new AppError(
      'PERMISSION_REQUIRED',
      `this call needs the permission ${GATEWAY_CHECK_PERMISSION}`,
    );
  };

  /** Headers the upstream must not get from the client: ours, and any with our prefix. */
  const forged = (request: CheckedHttpRequest) => {
    const prefix = settings.stripHeaderPrefix;
    const found = new Set(identityNames);
    if (prefix !== '') {
      for (const name of request.headers.keys()) if (name.startsWith(prefix)) found.add(name);
    }
    return found;
  };

  const allowed = (
    request: CheckedHttpRequest,
    found: Introspection,
    credentialHeader: string,
    organizationId: string | null,
  ): CheckOutcome => {
    const values: Record<keyof typeof names, string> = {
      userId: found.userId ?? '',
      serviceAccountId: found.serviceAccountId ?? '',
      apiKeyId: found.apiKeyId ?? '',
      sessionId: found.sessionId ?? '',
      roles: found.roles.join(','),
      organizationId: organizationId ?? '',
      principalType: found.principalType,
    };
    const setHeaders: HeaderToSet[] = [];
    const remove = forged(request);
    for (const [key, name] of Object.entries(names) as [keyof typeof names, string][]) {
      const value = values[key];
      if (value === '') continue;
      setHeaders.push({ name, value });
      remove.delete(name);
    }
    if (settings.removeCredential) remove.add(credentialHeader);
    return { kind: 'allowed', setHeaders, removeHeaders: [...remove].sort() };
  };

  return {
    async check(caller, request, gatewayInfo) {
      await requireGateway(caller);
      const route = routeRequirement(request.contextExtensions);
      const source =
        request.sourceAddress !== null && isIP(request.sourceAddress) !== 0
          ? request.sourceAddress
          : gatewayInfo.clientIp;
      // The end user's address, not the gateway's: a legacy key's lookups and refused keys spend
      // the credential budget of whoever sent them, so one client's guessing cannot throttle the
      // gateway's other traffic.
      const info: RequestInfo = {
        ...gatewayInfo,
        clientIp: source,
        userAgent: (request.headers.get('user-agent') ?? '').slice(0, 512),
      };
      const presented = credentialOf(request, settings.credentialHeaders);
      if (presented === null) return { kind: 'denied', http: deniedHttp('missing_credential') };
      try {
        const found =
          presented.credential === null
            ? null
            : await introspectToken(deps, presented.credential, info);
        if (found === null) {
          if (presented.credential !== null && isApiKeyLike(presented.credential)) {
            await deps.credentialBudget.spend(info.clientIp);
          }
          return { kind: 'denied', http: deniedHttp('invalid_credential') };
        }
        if (found.mfaEnrollmentRequired) {
          return { kind: 'denied', http: deniedHttp('mfa_enrollment_required') };
        }
        const organizationId = route.organizationId ?? found.organizationId;
        if (route.permission !== null) {
          const subject: AuthzSubject =
            found.serviceAccountId !== null
              ? { kind: 'service_account', id: found.serviceAccountId }
              : { kind: 'user', id: found.userId ?? '' };
          const keyRoles = found.principalType === 'user_session' ? null : found.roles;
          const grants = await deps.permissions.grants(subject, organizationId);
          const decision = decidePermission(
            grants,
            actingRoles(grants, keyRoles),
            route.permission,
          );
          if (!decision.allowed) {
            return {
              kind: 'denied',
              http: deniedHttp('permission_denied', { permission: route.permission }),
            };
          }
        }
        return allowed(request, found, presented.header, organizationId);
      } catch (error) {
        if (error instanceof AppError && error.reason === 'RATE_LIMITED') {
          return {
            kind: 'denied',
            http: deniedHttp('rate_limited', { retryAfterMs: error.retryAfterMs }),
          };
        }
        throw error;
      }
    },
  };
}
