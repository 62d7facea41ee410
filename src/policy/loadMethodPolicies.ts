import { readFileSync } from 'node:fs';
import {
  createFileRegistry,
  type DescExtension,
  type DescField,
  type DescMessage,
  type DescMethod,
  fromBinary,
  getOption,
  hasOption,
  ScalarType,
  toJson,
} from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { z } from 'zod';
import type { PrincipalKind } from '../auth/Principal.ts';
import { isAuditActionName } from '../domain/AuditEvent.ts';
import type { CallClass } from '../ratelimit/createRateLimitBudgets.ts';
import { StartupError } from '../startup/StartupError.ts';
import type {
  CallAuditPolicy,
  CallerPolicy,
  MethodPolicy,
  PermissionRequirementPolicy,
} from './MethodPolicy.ts';
import { ROLE_REFUSALS } from './requireRole.ts';

/** The API services Gatehouse serves; every RPC of each must carry a call policy. */
export const API_SERVICES = [
  'gatehouse.auth.v1.AuthService',
  'gatehouse.auth.v1.ApiKeyService',
  'gatehouse.admin.v1.UserAdminService',
  'gatehouse.admin.v1.ServiceAccountAdminService',
  'gatehouse.admin.v1.OrganizationAdminService',
  'gatehouse.authz.v1.AuthorizationService',
] as const;

const EXTENSION = 'gatehouse.policy.v1.method_policy';
const AUDIT_ACTION_ENUM = 'gatehouse.admin.v1.AuditAction';

/** The buf image of proto/ (options kept), committed and kept in sync by `npm run generate`. */
export function readPolicyImage(): Uint8Array {
  return readFileSync(new URL('../gen/gatehouse.binpb', import.meta.url));
}

const CALLERS: Record<string, CallerPolicy> = {
  CALLER_ANONYMOUS: 'anonymous',
  CALLER_AUTHENTICATED: 'authenticated',
  CALLER_BEARER_SIGNATURE_ONLY: 'bearer_signature_only',
};
const PRINCIPAL_KINDS: Record<string, PrincipalKind> = {
  PRINCIPAL_KIND_USER: 'user',
  PRINCIPAL_KIND_SERVICE_ACCOUNT: 'service_account',
  PRINCIPAL_KIND_USER_API_KEY: 'user_api_key',
};
const SOURCE_BUDGETS: Record<string, CallClass | null> = {
  SOURCE_BUDGET_NONE: null,
  SOURCE_BUDGET_READ: 'read',
  SOURCE_BUDGET_CREDENTIAL: 'credential',
};
const ACCOUNT_BUDGET_PREFIX = 'ACCOUNT_BUDGET_';
// As the permission catalog spells names (src/orgs/checkOrgFields.ts).
const PERMISSION = /^(?=.{3,128}$)[a-z][a-z0-9_-]*:[a-z][a-z0-9_-]*$/;

// The option in its proto JSON form (proto field names, enum value names, defaults written out).
const policyJson = z.object({
  caller: z.string(),
  principal_kinds: z.array(z.string()),
  required_role: z.string(),
  required_permission: z
    .object({ permission: z.string(), organization_field: z.string() })
    .optional(),
  source_budget: z.string(),
  account_budget: z.string(),
  skip_key_budget: z.boolean(),
  requires_recent_auth: z.boolean(),
  audit: z
    .object({
      action: z.string(),
      subject_field: z.string(),
      subject_service_account_field: z.string(),
    })
    .optional(),
});

/** The qualified name and file of a method, as a problem line names it. */
const where = (m: DescMethod) =>
  `${m.parent.typeName}.${m.name} (proto/${m.parent.file.proto.name})`;

/**
 * Reads the call policy of every RPC of `services` from a buf image (a FileDescriptorSet with
 * options and imports) and validates it. Every problem is collected, so one start names them
 * all; any problem is a StartupError: a method without a policy must not start serving with a
 * guessed one. Returns the policies by gRPC path.
 */
export function loadMethodPolicies(
  image: Uint8Array,
  services: readonly string[] = API_SERVICES,
): ReadonlyMap<string, MethodPolicy> {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, image));
  const extension = registry.getExtension(EXTENSION);
  if (extension === undefined) {
    throw new StartupError(`the descriptors lack the ${EXTENSION} option (gatehouse/policy/v1)`);
  }
  const auditActions = new Set(registry.getEnum(AUDIT_ACTION_ENUM)?.values.map((v) => v.name));
  const problems: string[] = [];
  const policies = new Map<string, MethodPolicy>();
  for (const name of services) {
    const service = registry.getService(name);
    if (service === undefined) {
      problems.push(`the descriptors lack the service ${name}`);
      continue;
    }
    for (const method of service.methods) {
      const found = readPolicy(method, extension, auditActions);
      if (Array.isArray(found)) problems.push(...found.map((p) => `${where(method)}: ${p}`));
      else policies.set(found.path, found);
    }
  }
  if (problems.length > 0) {
    throw new StartupError(problems.map((p) => `call policy: ${p}`));
  }
  return policies;
}

/** One method's policy, or what is wrong with it. */
function readPolicy(
  method: DescMethod,
  extension: DescExtension,
  auditActions: ReadonlySet<string>,
): MethodPolicy | string[] {
  if (!hasOption(method, extension)) {
    return [
      'has no call policy; add `option (gatehouse.policy.v1.method_policy) = { caller: ... ' +
        'source_budget: ... account_budget: ... };` to the rpc (see ' +
        'gatehouse/policy/v1/policy.proto) and run `npm run generate`',
    ];
  }
  const value = getOption(method, extension);
  const schema = extension.message;
  if (schema === undefined) return ['the policy option is not a message'];
  const problems: string[] = [];
  if (((value as { $unknown?: unknown[] }).$unknown?.length ?? 0) > 0) {
    problems.push('the policy sets a field this server does not know; upgrade the server');
  }
  const json = policyJson.parse(
    toJson(schema, value as never, { alwaysEmitImplicit: true, useProtoFieldName: true }),
  );
  const pick = <T>(table: Record<string, T>, field: string, name: string): T | undefined => {
    if (name in table) return table[name];
    problems.push(`${field} must be set (one of ${Object.keys(table).join(', ')}), not ${name}`);
    return undefined;
  };
  const caller = pick(CALLERS, 'caller', json.caller);
  const principalKinds = json.principal_kinds.map((k) =>
    pick(PRINCIPAL_KINDS, 'principal_kinds', k),
  );
  const sourceBudget = pick(SOURCE_BUDGETS, 'source_budget', json.source_budget);
  const accountBudget =
    json.account_budget.startsWith(ACCOUNT_BUDGET_PREFIX) &&
    json.account_budget !== 'ACCOUNT_BUDGET_UNSPECIFIED'
      ? json.account_budget.slice(ACCOUNT_BUDGET_PREFIX.length).toLowerCase()
      : undefined;
  if (accountBudget === undefined) {
    problems.push(
      `account_budget must be set (ACCOUNT_BUDGET_NONE or a budget), not ${json.account_budget}`,
    );
  }
  if (caller === 'authenticated' && principalKinds.length === 0) {
    problems.push('a CALLER_AUTHENTICATED policy must list principal_kinds');
  }
  if (caller !== 'authenticated' && principalKinds.length > 0) {
    problems.push('principal_kinds is only for CALLER_AUTHENTICATED');
  }
  const requiredRole = json.required_role === '' ? null : json.required_role;
  if (requiredRole !== null && caller !== 'authenticated') {
    problems.push('required_role needs CALLER_AUTHENTICATED');
  }
  if (requiredRole !== null && !(requiredRole in ROLE_REFUSALS)) {
    problems.push(
      `required_role ${JSON.stringify(requiredRole)} is not one of ${Object.keys(ROLE_REFUSALS).join(', ')}`,
    );
  }
  if (json.skip_key_budget && caller !== 'authenticated') {
    problems.push('skip_key_budget is only for CALLER_AUTHENTICATED');
  }
  if (
    json.requires_recent_auth &&
    !(caller === 'authenticated' && principalKinds.includes('user'))
  ) {
    problems.push(
      'requires_recent_auth needs CALLER_AUTHENTICATED with PRINCIPAL_KIND_USER (it applies to sessions)',
    );
  }
  let requiredPermission: PermissionRequirementPolicy | null = null;
  if (json.required_permission !== undefined) {
    const { permission, organization_field } = json.required_permission;
    // An empty organization_field asks for the permission globally (through global roles only).
    const organizationPath =
      organization_field === '' ? [] : fieldPath(method.input, organization_field);
    if (caller !== 'authenticated') problems.push('required_permission needs CALLER_AUTHENTICATED');
    if (!PERMISSION.test(permission)) {
      problems.push(
        `required_permission.permission ${JSON.stringify(permission)} is not resource:action`,
      );
    }
    if (organizationPath === null) {
      problems.push(
        `required_permission.organization_field ${JSON.stringify(organization_field)} is not a string field of ${method.input.typeName}`,
      );
    } else {
      requiredPermission = { permission, organizationPath };
    }
  }
  let audit: CallAuditPolicy | null = null;
  if (json.audit !== undefined) {
    const { action, subject_field, subject_service_account_field } = json.audit;
    const name = action.replace(/^AUDIT_ACTION_/, '').toLowerCase();
    const pathOf = (option: string, dotted: string) => {
      const path = dotted === '' ? [] : fieldPath(method.input, dotted);
      if (path === null) {
        problems.push(
          `audit.${option} ${JSON.stringify(dotted)} is not a string field of ${method.input.typeName}`,
        );
      }
      return path;
    };
    if (!auditActions.has(action) || !isAuditActionName(name)) {
      problems.push(
        `audit.action ${JSON.stringify(action)} is not a value of ${AUDIT_ACTION_ENUM}`,
      );
    } else if (subject_field !== '' && subject_service_account_field !== '') {
      problems.push(
        'audit names a subject_field and a subject_service_account_field; a call has one subject',
      );
    } else {
      const subjectPath = pathOf('subject_field', subject_field);
      const serviceAccountPath = pathOf(
        'subject_service_account_field',
        subject_service_account_field,
      );
      if (subjectPath !== null && serviceAccountPath !== null) {
        audit = {
          action: name,
          subjectPath,
          ...(serviceAccountPath.length > 0 ? { serviceAccountPath } : {}),
        };
      }
    }
  }
  if (problems.length > 0 || caller === undefined || sourceBudget === undefined) return problems;
  return {
    path: `/${method.parent.typeName}/${method.name}`,
    caller,
    principalKinds: principalKinds.filter((k) => k !== undefined),
    requiredRole,
    requiredPermission,
    sourceBudget,
    accountBudget: accountBudget === 'none' ? null : (accountBudget ?? null),
    spendsKeyBudget: !json.skip_key_budget,
    requiresRecentAuth: json.requires_recent_auth,
    audit,
  };
}

/** The property path (`['user', 'id']`) of a dotted proto path to a string field, or null. */
function fieldPath(message: DescMessage, dotted: string): string[] | null {
  const path: string[] = [];
  let current: DescMessage | undefined = message;
  const names = dotted.split('.');
  for (const [i, name] of names.entries()) {
    const field: DescField | undefined = current?.fields.find((f) => f.name === name);
    if (field === undefined) return null;
    path.push(field.localName);
    const last = i === names.length - 1;
    if (last)
      return field.fieldKind === 'scalar' && field.scalar === ScalarType.STRING ? path : null;
    current = field.fieldKind === 'message' ? field.message : undefined;
  }
  return null;
}
