import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createFileRegistry,
  fromBinary,
  getExtension,
  type Message,
  setExtension,
  toBinary,
} from '@bufbuild/protobuf';
import { type FileDescriptorSet, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { OrganizationAdminServiceService } from '../gen/gatehouse/admin/v1/organization_admin_service.ts';
import { ServiceAccountAdminServiceService } from '../gen/gatehouse/admin/v1/service_account_admin_service.ts';
import { UserAdminServiceService } from '../gen/gatehouse/admin/v1/user_admin_service.ts';
import { ApiKeyServiceService } from '../gen/gatehouse/auth/v1/api_key_service.ts';
import { AuthServiceService } from '../gen/gatehouse/auth/v1/auth_service.ts';
import { AuthorizationServiceService } from '../gen/gatehouse/authz/v1/authorization_service.ts';
import { StartupError } from '../startup/StartupError.ts';
import { loadMethodPolicies, readPolicyImage } from './loadMethodPolicies.ts';

const DEFINITIONS = {
  AuthServiceService,
  ApiKeyServiceService,
  UserAdminServiceService,
  ServiceAccountAdminServiceService,
  OrganizationAdminServiceService,
  AuthorizationServiceService,
};
const auth = (m: string) => `/gatehouse.auth.v1.AuthService/${m}`;
const admin = (m: string) => `/gatehouse.admin.v1.UserAdminService/${m}`;
const serviceAccounts = (m: string) => `/gatehouse.admin.v1.ServiceAccountAdminService/${m}`;
const apiKeys = (m: string) => `/gatehouse.auth.v1.ApiKeyService/${m}`;
const orgs = (m: string) => `/gatehouse.admin.v1.OrganizationAdminService/${m}`;
// Delegated administration (issue 14): members and invitations, by admins or by org:manage.
const DELEGATED = [
  'AddMember',
  'ListMembers',
  'RemoveMember',
  'SetMemberRoles',
  'CreateInvitation',
  'ListInvitations',
  'RevokeInvitation',
];

/** The committed image with one method's descriptor changed by `edit`. */
function editedImage(
  service: string,
  method: string,
  edit: (m: { options?: unknown }, set: FileDescriptorSet) => void,
): Uint8Array {
  const set = fromBinary(FileDescriptorSetSchema, readPolicyImage());
  const [pkg, name] = [
    service.slice(0, service.lastIndexOf('.')),
    service.slice(service.lastIndexOf('.') + 1),
  ];
  const file = set.file.find((f) => f.package === pkg && f.service.some((s) => s.name === name));
  const found = file?.service.find((s) => s.name === name)?.method.find((m) => m.name === method);
  assert.ok(found, `${service}.${method} is in the image`);
  edit(found as { options?: unknown }, set);
  return toBinary(FileDescriptorSetSchema, set);
}

/** Changes the policy value of one method (its protobuf-es message) and writes it back. */
function editedPolicy(
  service: string,
  method: string,
  change: (policy: Record<string, unknown>) => void,
): Uint8Array {
  return editedImage(service, method, (m, set) => {
    const ext = createFileRegistry(set).getExtension('gatehouse.policy.v1.method_policy');
    assert.ok(ext);
    const options = m.options as Parameters<typeof getExtension>[0];
    const value = getExtension(options, ext) as Message & Record<string, unknown>;
    change(value);
    setExtension(options, ext, value as never);
  });
}

/** AddMember's required_permission as its protobuf-es message, to copy into other policies. */
function addMemberRequirement(): Record<string, unknown> {
  let found: Record<string, unknown> | undefined;
  editedPolicy('gatehouse.admin.v1.OrganizationAdminService', 'AddMember', (p) => {
    found = p.requiredPermission as Record<string, unknown>;
  });
  assert.ok(found, 'AddMember has a required_permission');
  return found;
}

const problemsOf = (image: Uint8Array) => {
  try {
    loadMethodPolicies(image);
  } catch (error) {
    assert.ok(error instanceof StartupError, String(error));
    return error.problems;
  }
  assert.fail('the policies loaded');
};

describe('loadMethodPolicies', () => {
  const policies = loadMethodPolicies(readPolicyImage());

  it('finds a valid policy for every method of every service definition', () => {
    for (const [service, definition] of Object.entries(DEFINITIONS)) {
      for (const [name, method] of Object.entries(definition)) {
        const policy = policies.get(method.path);
        assert.ok(policy, `${service}.${name} (${method.path}) has a call policy`);
        assert.equal(policy.path, method.path);
      }
    }
    const methods = Object.values(DEFINITIONS).flatMap((d) => Object.keys(d));
    assert.equal(policies.size, methods.length);
  });

  it('declares the budgets, callers and audit the server applied before policies existed', () => {
    const credential = [...policies.values()]
      .filter((p) => p.sourceBudget === 'credential')
      .map((p) => p.path)
      .sort();
    assert.deepEqual(
      credential,
      [
        'Register',
        'Login',
        'Refresh',
        'ChangePassword',
        'RequestPasswordReset',
        'ResetPassword',
        'VerifyEmail',
        // An invitation token can be guessed at.
        'AcceptInvitation',
        // The second step of a login, and the self-service calls that check a code.
        'CompleteMfaLogin',
        'ConfirmTotpEnrollment',
        'DisableTotp',
        'RegenerateRecoveryCodes',
        // A password (and a code) checked again for step-up.
        'Reauthenticate',
        // Passkeys: an answer to a challenge is a guess at a credential.
        'FinishPasskeyRegistration',
        'StartPasskeyLogin',
        'FinishPasskeyLogin',
        'StartMfaPasskey',
      ]
        .map(auth)
        .sort(),
    );
    // Options for a step-up with a passkey: issuing them is no guess (the answer goes to
    // Reauthenticate, which spends the credential budget), and a session with an old auth_time
    // must be able to ask for them.
    assert.deepEqual(policies.get(auth('StartReauthenticationPasskey')), {
      path: auth('StartReauthenticationPasskey'),
      caller: 'authenticated',
      principalKinds: ['user'],
      requiredRole: null,
      requiredPermission: null,
      sourceBudget: 'read',
      accountBudget: null,
      spendsKeyBudget: true,
      requiresRecentAuth: false,
      audit: null,
    });
    const unlimited = [...policies.values()].filter((p) => p.sourceBudget === null);
    // Hot-path calls of resource servers; permission checks are authenticated instead, and a
    // failed key presentation still spends the credential budget (authenticateCaller).
    assert.deepEqual(unlimited.map((p) => p.path).sort(), [
      ...['GetJwks', 'ValidateToken'].map(auth),
      ...['BatchCheckPermissions', 'CheckPermission'].map(
        (m) => `/gatehouse.authz.v1.AuthorizationService/${m}`,
      ),
    ]);
    for (const { path: name } of Object.values(AuthorizationServiceService)) {
      assert.equal(policies.get(name)?.caller, 'authenticated', name);
    }
    const budgets = Object.fromEntries(
      [...policies.values()].filter((p) => p.accountBudget).map((p) => [p.path, p.accountBudget]),
    );
    assert.deepEqual(budgets, {
      [auth('Register')]: 'register',
      [auth('Login')]: 'login',
      // Its second step spends the Login identifier's budget: a guess there is a guess at login.
      [auth('CompleteMfaLogin')]: 'login',
      [auth('ConfirmTotpEnrollment')]: 'second_factor',
      [auth('DisableTotp')]: 'second_factor',
      [auth('RegenerateRecoveryCodes')]: 'second_factor',
      [auth('Reauthenticate')]: 'reauthentication',
      [auth('FinishPasskeyRegistration')]: 'second_factor',
      // Passkey sign-in spends the Login budgets, as the issue asks.
      [auth('StartPasskeyLogin')]: 'login',
      [auth('FinishPasskeyLogin')]: 'login',
      [auth('StartMfaPasskey')]: 'login',
      [auth('Refresh')]: 'refresh',
      [auth('ChangePassword')]: 'password_change',
      [auth('RequestPasswordReset')]: 'password_reset',
      [auth('RequestEmailVerification')]: 'email_verification',
      // It sends mail: limited per caller.
      [orgs('CreateInvitation')]: 'invitation',
    });
    for (const { path: name } of [
      ...Object.values(UserAdminServiceService),
      ...Object.values(OrganizationAdminServiceService),
    ]) {
      const p = policies.get(name);
      assert.ok(p, name);
      assert.equal(p.caller, 'authenticated');
      // Machine callers (issue 13) manage users with an admin key, like admins with a session.
      assert.deepEqual(p.principalKinds, ['user', 'service_account', 'user_api_key']);
      assert.equal(p.requiredRole, 'admin');
      assert.equal(p.sourceBudget, 'read');
      assert.ok(p.audit, `${name} is audited`);
      const delegated = DELEGATED.map(orgs).includes(name);
      assert.deepEqual(
        p.requiredPermission,
        delegated ? { permission: 'org:manage', organizationPath: ['organizationId'] } : null,
        `${name}: ${delegated ? 'admin or org:manage in the organisation' : 'admin only'}`,
      );
    }
    // The revocation stream: service accounts whose global roles grant revocations:watch.
    assert.deepEqual(policies.get(auth('WatchRevocations')), {
      path: auth('WatchRevocations'),
      caller: 'authenticated',
      principalKinds: ['service_account'],
      requiredRole: null,
      requiredPermission: { permission: 'revocations:watch', organizationPath: [] },
      sourceBudget: 'read',
      accountBudget: null,
      spendsKeyBudget: true,
      requiresRecentAuth: false,
      audit: null,
    });
    for (const p of policies.values()) {
      if (!p.path.startsWith(orgs('')) && p.path !== auth('WatchRevocations')) {
        assert.equal(p.requiredPermission, null, p.path);
      }
    }
    assert.deepEqual(policies.get(admin('UpdateUser'))?.audit, {
      action: 'user_update',
      subjectPath: ['user', 'id'],
    });
    for (const { path: name } of Object.values(ServiceAccountAdminServiceService)) {
      const p = policies.get(name);
      assert.ok(p, name);
      assert.equal(p.caller, 'authenticated');
      assert.deepEqual(p.principalKinds, ['user', 'service_account', 'user_api_key']);
      assert.equal(p.requiredRole, 'admin');
      assert.equal(p.sourceBudget, 'read');
      assert.equal(p.accountBudget, null);
      // ImportApiKeys is about keys of many owners, not one account: api_keys_import.
      const action = p.audit?.action ?? '';
      assert.ok(
        action.startsWith('service_account_') || action === 'api_keys_import',
        `${name} is audited`,
      );
      assert.deepEqual(p.audit?.subjectPath, [], `${name} names no subject user`);
    }
    assert.deepEqual(policies.get(serviceAccounts('UpdateServiceAccount'))?.audit, {
      action: 'service_account_update',
      subjectPath: [],
      serviceAccountPath: ['serviceAccount', 'id'],
    });
    assert.deepEqual(policies.get(serviceAccounts('ImportApiKeys'))?.audit, {
      action: 'api_keys_import',
      subjectPath: [],
    });
    assert.deepEqual(
      policies.get(serviceAccounts('RevokeServiceAccountKey'))?.audit?.serviceAccountPath,
      ['serviceAccountId'],
    );
    assert.equal(policies.get(auth('Logout'))?.caller, 'bearer_signature_only');
    // Password and session RPCs are for people with a session; ExchangeApiKey is for keys, a
    // user's own key may also read the user's memberships (ListMyOrganizations), and the
    // revocation stream is for service accounts.
    for (const { path: name } of Object.values(AuthServiceService)) {
      const kinds = policies.get(name)?.principalKinds ?? [];
      if (name === auth('ExchangeApiKey')) {
        assert.deepEqual(kinds, ['service_account', 'user_api_key']);
      } else if (name === auth('ListMyOrganizations')) {
        assert.deepEqual(kinds, ['user', 'user_api_key']);
      } else if (name === auth('WatchRevocations')) {
        // Resource servers subscribe as service accounts (issue 16).
        assert.deepEqual(kinds, ['service_account']);
      } else if (kinds.length > 0) {
        assert.deepEqual(kinds, ['user'], name);
      }
    }
    assert.equal(policies.get(auth('Login'))?.audit, null);
    // A user's own keys: minting keys or secrets needs a session; a key may read and revoke.
    for (const { path: name } of Object.values(ApiKeyServiceService)) {
      const p = policies.get(name);
      assert.ok(p, name);
      assert.equal(p.caller, 'authenticated');
      assert.equal(p.requiredRole, null);
      assert.equal(p.sourceBudget, 'read');
      assert.equal(p.accountBudget, null);
    }
    const kindsOf = (m: string) => policies.get(apiKeys(m))?.principalKinds;
    assert.deepEqual(kindsOf('CreateApiKey'), ['user']);
    assert.deepEqual(kindsOf('RotateApiKey'), ['user']);
    for (const m of ['ListApiKeys', 'GetApiKey', 'RevokeApiKey']) {
      assert.deepEqual(kindsOf(m), ['user', 'user_api_key'], m);
    }
    const actions = [
      'CreateApiKey',
      'RevokeApiKey',
      'RotateApiKey',
      'ListApiKeys',
      'GetApiKey',
    ].map((m) => policies.get(apiKeys(m))?.audit?.action ?? null);
    assert.deepEqual(actions, ['api_key_create', 'api_key_revoke', 'api_key_rotate', null, null]);
    assert.deepEqual(policies.get(admin('RevokeUserApiKey'))?.audit, {
      action: 'user_api_key_revoke',
      subjectPath: ['userId'],
    });
  });

  it('refuses to start when one method has no policy, naming it and what to add', () => {
    const image = editedImage('gatehouse.auth.v1.AuthService', 'Login', (m) => {
      m.options = undefined;
    });
    const problems = problemsOf(image);
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /gatehouse\.auth\.v1\.AuthService\.Login/);
    assert.match(problems[0] ?? '', /auth_service\.proto/);
    assert.match(problems[0] ?? '', /option \(gatehouse\.policy\.v1\.method_policy\)/);
  });

  it('refuses unset enums, unknown audit actions and subject fields the request lacks', () => {
    const unset = problemsOf(
      editedPolicy('gatehouse.auth.v1.AuthService', 'Refresh', (p) => {
        p.caller = 0;
        p.sourceBudget = 0;
        p.accountBudget = 0;
      }),
    );
    assert.equal(unset.length, 3, unset.join('\n'));
    assert.match(unset.join('\n'), /caller must be set.*CALLER_UNSPECIFIED/);
    assert.match(unset.join('\n'), /source_budget must be set/);
    assert.match(unset.join('\n'), /account_budget must be set/);

    const kinds = problemsOf(
      editedPolicy('gatehouse.auth.v1.AuthService', 'GetCurrentUser', (p) => {
        p.principalKinds = [0];
      }),
    );
    assert.match(kinds.join('\n'), /GetCurrentUser.*principal_kinds must be set/);

    const action = problemsOf(
      editedPolicy('gatehouse.admin.v1.UserAdminService', 'GetUser', (p) => {
        (p.audit as Record<string, unknown>).action = 'AUDIT_ACTION_USER_PEEK';
      }),
    );
    assert.match(action.join('\n'), /GetUser.*"AUDIT_ACTION_USER_PEEK" is not a value/);

    const subject = problemsOf(
      editedPolicy('gatehouse.admin.v1.UserAdminService', 'UpdateUser', (p) => {
        (p.audit as Record<string, unknown>).subjectField = 'user.uid';
      }),
    );
    assert.match(subject.join('\n'), /UpdateUser.*"user\.uid" is not a string field/);

    const saSubject = problemsOf(
      editedPolicy('gatehouse.admin.v1.ServiceAccountAdminService', 'GetServiceAccount', (p) => {
        (p.audit as Record<string, unknown>).subjectServiceAccountField = 'service_account_uid';
      }),
    );
    assert.match(
      saSubject.join('\n'),
      /GetServiceAccount.*subject_service_account_field "service_account_uid" is not a string field/,
    );
    const twoSubjects = problemsOf(
      editedPolicy('gatehouse.admin.v1.ServiceAccountAdminService', 'GetServiceAccount', (p) => {
        (p.audit as Record<string, unknown>).subjectField = 'service_account_id';
      }),
    );
    assert.match(twoSubjects.join('\n'), /GetServiceAccount.*a call has one subject/);

    const role = problemsOf(
      editedPolicy('gatehouse.auth.v1.AuthService', 'Login', (p) => {
        p.requiredRole = 'admin';
      }),
    );
    assert.match(role.join('\n'), /Login.*required_role needs CALLER_AUTHENTICATED/);
  });

  it('refuses a required_permission that is malformed, names no string field, or has no caller', () => {
    const requirement = (p: Record<string, unknown>) =>
      p.requiredPermission as Record<string, unknown>;
    const malformed = problemsOf(
      editedPolicy('gatehouse.admin.v1.OrganizationAdminService', 'AddMember', (p) => {
        requirement(p).permission = 'Org-Manage';
      }),
    );
    assert.equal(malformed.length, 1, malformed.join('\n'));
    assert.match(
      malformed[0] ?? '',
      /AddMember.*required_permission\.permission "Org-Manage" is not resource:action/,
    );
    const empty = problemsOf(
      editedPolicy('gatehouse.admin.v1.OrganizationAdminService', 'AddMember', (p) => {
        requirement(p).permission = '';
      }),
    );
    assert.match(empty.join('\n'), /AddMember.*required_permission\.permission "" is not/);
    const unknownField = problemsOf(
      editedPolicy('gatehouse.admin.v1.OrganizationAdminService', 'ListMembers', (p) => {
        requirement(p).organizationField = 'org_id';
      }),
    );
    assert.match(
      unknownField.join('\n'),
      /ListMembers.*required_permission\.organization_field "org_id" is not a string field of gatehouse\.admin\.v1\.ListMembersRequest/,
    );
    // page_size is a field, but not a string: an organisation id cannot be read from it.
    const notString = problemsOf(
      editedPolicy('gatehouse.admin.v1.OrganizationAdminService', 'ListMembers', (p) => {
        requirement(p).organizationField = 'page_size';
      }),
    );
    assert.match(notString.join('\n'), /organization_field "page_size" is not a string field/);
    // No organization_field: the permission is asked for globally (through global roles).
    const global = loadMethodPolicies(
      editedPolicy('gatehouse.admin.v1.OrganizationAdminService', 'RemoveMember', (p) => {
        requirement(p).organizationField = '';
      }),
    );
    assert.deepEqual(global.get(orgs('RemoveMember'))?.requiredPermission, {
      permission: 'org:manage',
      organizationPath: [],
    });
    // A dotted path reaches into a message field, like audit.subject_field does.
    const nested = loadMethodPolicies(
      editedPolicy('gatehouse.admin.v1.OrganizationAdminService', 'UpdateOrganization', (p) => {
        p.requiredPermission = { ...addMemberRequirement(), organizationField: 'organization.id' };
      }),
    );
    assert.deepEqual(nested.get(orgs('UpdateOrganization'))?.requiredPermission, {
      permission: 'org:manage',
      organizationPath: ['organization', 'id'],
    });
    const anonymous = problemsOf(
      editedPolicy('gatehouse.auth.v1.AuthService', 'RequestPasswordReset', (p) => {
        p.requiredPermission = { ...addMemberRequirement(), organizationField: 'email' };
      }),
    );
    assert.match(
      anonymous.join('\n'),
      /RequestPasswordReset.*required_permission needs CALLER_AUTHENTICATED/,
    );
  });

  it('spares only the permission checks the per-key budget, and only for authenticated callers', () => {
    const spared = [...policies.values()]
      .filter((p) => !p.spendsKeyBudget)
      .map((p) => p.path)
      .sort();
    assert.deepEqual(spared, [
      '/gatehouse.authz.v1.AuthorizationService/BatchCheckPermissions',
      '/gatehouse.authz.v1.AuthorizationService/CheckPermission',
    ]);
    const anonymous = problemsOf(
      editedPolicy('gatehouse.auth.v1.AuthService', 'ValidateToken', (p) => {
        p.skipKeyBudget = true;
      }),
    );
    assert.match(
      anonymous.join('\n'),
      /ValidateToken.*skip_key_budget is only for CALLER_AUTHENTICATED/,
    );
  });

  it('asks for a recent authentication on the sensitive calls, and only of sessions', () => {
    const sensitive = [...policies.values()]
      .filter((p) => p.requiresRecentAuth)
      .map((p) => p.path)
      .sort();
    assert.deepEqual(
      sensitive,
      [
        auth('ChangePassword'),
        auth('DisableTotp'),
        auth('RegenerateRecoveryCodes'),
        auth('DeletePasskey'),
        apiKeys('CreateApiKey'),
        apiKeys('RotateApiKey'),
      ].sort(),
    );
    for (const path of sensitive) {
      assert.ok(policies.get(path)?.principalKinds.includes('user'), `${path} admits sessions`);
    }
    const anonymous = problemsOf(
      editedPolicy('gatehouse.auth.v1.AuthService', 'Login', (p) => {
        p.requiresRecentAuth = true;
      }),
    );
    assert.match(anonymous.join('\n'), /Login.*requires_recent_auth needs CALLER_AUTHENTICATED/);
    const keysOnly = problemsOf(
      editedPolicy('gatehouse.auth.v1.AuthService', 'ExchangeApiKey', (p) => {
        p.requiresRecentAuth = true;
      }),
    );
    assert.match(
      keysOnly.join('\n'),
      /ExchangeApiKey.*requires_recent_auth needs CALLER_AUTHENTICATED with PRINCIPAL_KIND_USER/,
    );
  });
});
