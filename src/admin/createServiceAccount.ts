import { isViolation, normalizeDisplayName } from '../auth/normalize.ts';
import type { NewServiceAccount, ServiceAccount } from '../domain/ServiceAccount.ts';
import { type FieldViolation, invalidArgument } from '../errors/AppError.ts';
import { insertServiceAccount } from '../storage/serviceAccounts.ts';
import type { AuditScope } from './AuditScope.ts';
import { normalizeDescription, normalizeServiceAccountName } from './checkServiceAccountFields.ts';
import { normalizeRoles } from './normalizeRoles.ts';

export interface CreateServiceAccountInput {
  name: string;
  displayName: string;
  description: string;
  roles: readonly string[];
}

/** Validates a new service account's fields, every violation at once. */
export function checkNewServiceAccount(input: CreateServiceAccountInput): NewServiceAccount {
  const violations: FieldViolation[] = [];
  const name = normalizeServiceAccountName(input.name);
  const displayName = normalizeDisplayName(input.displayName);
  const description = normalizeDescription(input.description);
  const roles = normalizeRoles(input.roles);
  for (const value of [name, displayName, description, roles]) {
    if (isViolation(value)) violations.push(value);
  }
  if (
    isViolation(name) ||
    isViolation(displayName) ||
    isViolation(description) ||
    isViolation(roles)
  ) {
    throw invalidArgument(violations);
  }
  return { name, displayName, description, roles };
}

/** Creates an active service account without keys; the unique index decides NAME_TAKEN. */
export async function createServiceAccount(
  audit: AuditScope,
  input: CreateServiceAccountInput,
): Promise<ServiceAccount> {
  const account = checkNewServiceAccount(input);
  return audit.transaction(async (tx) => {
    const created = await insertServiceAccount(tx, account);
    audit.note({
      serviceAccountId: created.id,
      details: { name: created.name, roles: created.roles.join(',') },
    });
    return created;
  });
}
