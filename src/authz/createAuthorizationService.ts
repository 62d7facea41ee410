import type { AuthDeps, RequestInfo } from '../auth/AuthDeps.ts';
import type { ApiKeyAuthDeps } from '../auth/authenticateApiKey.ts';
import { introspectToken } from '../auth/introspectToken.ts';
import { isUuid } from '../auth/normalize.ts';
import type { Principal } from '../auth/Principal.ts';
import type { AuthzSubject } from '../domain/PermissionGrants.ts';
import { AppError, type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { MAX_ACCESS_TOKEN_LENGTH } from '../grpc/bearerToken.ts';
import type { PermissionCache } from './createPermissionCache.ts';
import {
  type Acting,
  actingOf,
  actingRoles,
  decidePermission,
  denied,
  type PermissionDecision,
} from './decidePermission.ts';

/** Whose permission a check is about. */
export type CheckedPrincipal =
  | { kind: 'credential'; credential: string }
  | { kind: 'subject'; subject: AuthzSubject };

/** One permission check as the transport reads it. */
export interface PermissionCheck {
  principal: CheckedPrincipal | null;
  permission: string;
  /** '' for global roles only. */
  organizationId: string;
}

/** The permission the caller of AuthorizationService needs (or the admin role). */
export const CHECK_PERMISSION = 'authz:check';

/** Most checks one BatchCheckPermissions call may ask. */
export const MAX_BATCH_CHECKS = 100;

const PERMISSION_NAME = /^[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$/;

export type AuthorizationDeps = Pick<
  AuthDeps,
  'keys' | 'sessionCache' | 'pool' | 'tokens' | 'log' | 'mfa'
> &
  ApiKeyAuthDeps & { permissions: PermissionCache };

/** The AuthorizationService use cases. */
export interface AuthorizationService {
  /** One decision per check, in order; validates every check before answering any. */
  checkPermissions(
    caller: Principal,
    checks: readonly PermissionCheck[],
    info: RequestInfo,
  ): Promise<PermissionDecision[]>;
}

function checkViolations(check: PermissionCheck, prefix: string): FieldViolation[] {
  const v: FieldViolation[] = [];
  const p = check.principal;
  if (p === null) {
    v.push({ field: `${prefix}credential`, description: 'a credential or a subject is required' });
  } else if (p.kind === 'credential') {
    if (p.credential === '' || p.credential.length > MAX_ACCESS_TOKEN_LENGTH) {
      v.push({
        field: `${prefix}credential`,
        description: `must be 1 to ${MAX_ACCESS_TOKEN_LENGTH} characters`,
      });
    }
  } else if (!isUuid(p.subject.id)) {
    const field = p.subject.kind === 'user' ? 'user_id' : 'service_account_id';
    v.push({ field: `${prefix}subject.${field}`, description: 'must be a UUID' });
  }
  if (check.permission.length > 128 || !PERMISSION_NAME.test(check.permission)) {
    v.push({
      field: `${prefix}permission`,
      description: 'must be resource:action, lower case (e.g. bookings:read)',
    });
  }
  if (check.organizationId !== '' && !isUuid(check.organizationId)) {
    v.push({ field: `${prefix}organization_id`, description: 'must be a UUID or empty' });
  }
  return v;
}

/**
 * Binds the permission checks to the credential resolvers and the permission cache. The caller
 * must hold `authz:check` or `admin` through its global roles now; that is decided before any
 * check is read, so a caller without it learns nothing about the request's principals.
 */
export function createAuthorizationService(deps: AuthorizationDeps): AuthorizationService {
  const requireCaller = async (caller: Principal) => {
    const { subject, keyRoles } = actingOf(caller);
    const grants = await deps.permissions.grants(subject, null);
    const roles = actingRoles(grants, keyRoles);
    if (
      grants.accountActive &&
      (roles.includes('admin') || decidePermission(grants, roles, CHECK_PERMISSION).allowed)
    ) {
      return;
    }
    throw new AppError(
      'PERMISSION_REQUIRED',
      `this call needs the permission ${CHECK_PERMISSION} (or the admin role)`,
    );
  };

  return {
    async checkPermissions(caller, checks, info) {
      await requireCaller(caller);
      const batch = checks.length !== 1;
      if (checks.length > MAX_BATCH_CHECKS) {
        throw invalidArgument([
          { field: 'checks', description: `at most ${MAX_BATCH_CHECKS} checks per call` },
        ]);
      }
      const violations = checks.flatMap((c, i) => checkViolations(c, batch ? `checks[${i}].` : ''));
      if (violations.length > 0) throw invalidArgument(violations);

      // A credential repeated in a batch is resolved once.
      const resolved = new Map<string, Promise<Acting | null>>();
      const resolve = (credential: string) => {
        let acting = resolved.get(credential);
        if (acting === undefined) {
          acting = introspectToken(deps, credential, info).then((found) => {
            if (found === null) return null;
            const subject: AuthzSubject =
              found.serviceAccountId !== null
                ? { kind: 'service_account', id: found.serviceAccountId }
                : { kind: 'user', id: found.userId ?? '' };
            return {
              subject,
              keyRoles: found.principalType === 'user_session' ? null : found.roles,
            };
          });
          resolved.set(credential, acting);
        }
        return acting;
      };
      return Promise.all(
        checks.map(async (check): Promise<PermissionDecision> => {
          const p = check.principal;
          if (p === null) throw new Error('validated above');
          const acting =
            p.kind === 'subject'
              ? { subject: p.subject, keyRoles: null }
              : await resolve(p.credential);
          if (acting === null) {
            return denied('credential_inactive', 'the credential is not valid or no longer live');
          }
          const grants = await deps.permissions.grants(
            acting.subject,
            check.organizationId === '' ? null : check.organizationId,
          );
          return decidePermission(grants, actingRoles(grants, acting.keyRoles), check.permission);
        }),
      );
    },
  };
}
