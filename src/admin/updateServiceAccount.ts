import { isViolation, normalizeDisplayName } from '../auth/normalize.ts';
import type { ServiceAccount } from '../domain/ServiceAccount.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import {
  getServiceAccountById,
  type ServiceAccountChanges,
  updateServiceAccountProfile,
} from '../storage/serviceAccounts.ts';
import type { AuditScope } from './AuditScope.ts';
import { normalizeDescription } from './checkServiceAccountFields.ts';
import { requireServiceAccountId } from './getServiceAccount.ts';
import { normalizeRoles } from './normalizeRoles.ts';
import { parseUpdateMask } from './parseUpdateMask.ts';

/** The update_mask paths UpdateServiceAccount accepts (proto field names of ServiceAccount). */
const UPDATABLE_PATHS = ['display_name', 'description', 'roles'] as const;

export interface UpdateServiceAccountInput {
  /** The new values; only the fields named by `paths` are read. */
  serviceAccount:
    | { id: string; displayName: string; description: string; roles: string[] }
    | undefined;
  paths: readonly string[] | undefined;
}

/** Validates the mask and the values it names; returns the account id and the changes. */
function parseUpdate(input: UpdateServiceAccountInput) {
  const violations: FieldViolation[] = [];
  const id = requireServiceAccountId(input.serviceAccount?.id, 'service_account.id');
  const paths = parseUpdateMask(UPDATABLE_PATHS, input.paths, violations);
  const account = input.serviceAccount;
  const changes: ServiceAccountChanges = {};
  if (account && paths.has('display_name')) {
    const name = normalizeDisplayName(account.displayName, 'service_account.display_name');
    if (isViolation(name)) violations.push(name);
    else changes.displayName = name;
  }
  if (account && paths.has('description')) {
    const text = normalizeDescription(account.description, 'service_account.description');
    if (isViolation(text)) violations.push(text);
    else changes.description = text;
  }
  if (account && paths.has('roles')) {
    const roles = normalizeRoles(account.roles, 'service_account.roles');
    if (isViolation(roles)) violations.push(roles);
    else changes.roles = roles;
  }
  if (violations.length > 0) throw invalidArgument(violations);
  return { id, paths, changes };
}

/**
 * Updates the fields named by the mask. A role taken away is gone from the account's keys at
 * once: their effective roles are the key's ∩ the account's, and the row's notification
 * (sa:<id>) drops every instance's cached key state.
 */
export async function updateServiceAccount(
  audit: AuditScope,
  input: UpdateServiceAccountInput,
): Promise<ServiceAccount> {
  const { id, paths, changes } = parseUpdate(input);
  return audit.transaction(async (tx) => {
    const before = await getServiceAccountById(tx, id, { forUpdate: true });
    const updated = await updateServiceAccountProfile(tx, id, changes);
    const rolesChanged = before.roles.join(',') !== updated.roles.join(',');
    audit.note({
      details: {
        fields: [...paths].sort().join(','),
        ...(rolesChanged
          ? { previous_roles: before.roles.join(','), roles: updated.roles.join(',') }
          : {}),
      },
    });
    return updated;
  });
}
