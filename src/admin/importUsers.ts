import {
  isViolation,
  normalizeDisplayName,
  normalizeEmail,
  normalizeUsername,
} from '../auth/normalize.ts';
import type { NewUser } from '../domain/User.ts';
import {
  type ImportErrorReason,
  type ImportFailure,
  importErrorReason,
} from '../errors/importErrorReason.ts';
import { findUserConflict, insertImportedUser } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
import type { AuditScope } from './AuditScope.ts';
import { checkImportedHash } from './checkImportedHash.ts';
import { checkImportBatchSize, isImportableCreationTime } from './importBatch.ts';
import { normalizeRoles } from './normalizeRoles.ts';

const CONTROL = /[\p{Cc}\p{Cf}]/u;

export interface ImportEntry {
  email: string;
  username?: string | undefined;
  displayName?: string | undefined;
  roles: readonly string[];
  emailVerified: boolean;
  /** PHC / bcrypt string kept as is; empty for an account without a password. */
  passwordHash: string;
  createdAt?: Date | undefined;
  externalId?: string | undefined;
}

export interface ImportResult {
  index: number;
  email: string;
  ok: boolean;
  userId: string;
  /** Empty when ok; else the wire value of the failure (importErrorReason). */
  errorReason: ImportErrorReason | '';
  errorMessage: string;
}

type Checked = { user: NewUser } | { failure: ImportFailure; message: string };

/** An entry refused before the transaction: VALIDATION_FAILED on `field`. */
const invalid = (field: string, message: string): Checked => ({
  failure: { reason: 'VALIDATION_FAILED', field },
  message,
});

function checkEntry(deps: Pick<AdminDeps, 'hasher'>, e: ImportEntry, now: number): Checked {
  const email = normalizeEmail(e.email);
  if (isViolation(email)) return invalid('email', email.description);
  const username =
    e.username === undefined || e.username.trim() === '' ? null : normalizeUsername(e.username);
  if (isViolation(username)) return invalid('username', username.description);
  const roles = normalizeRoles(e.roles);
  if (isViolation(roles)) return invalid('roles', roles.description);
  const hash = e.passwordHash.trim();
  if (hash !== '') {
    const problem = checkImportedHash(deps.hasher, hash);
    if (problem !== null) return invalid('password_hash', problem);
  }
  const displayName = normalizeDisplayName(e.displayName ?? '');
  if (isViolation(displayName)) {
    return invalid('display_name', `display_name: ${displayName.description}`);
  }
  const externalId = e.externalId?.trim() || null;
  if (externalId !== null && (externalId.length > 255 || CONTROL.test(externalId))) {
    return invalid('external_id', 'external_id: at most 255 characters, no control characters');
  }
  const createdAt = e.createdAt ?? null;
  if (createdAt !== null && !isImportableCreationTime(createdAt, now)) {
    return invalid('created_at', 'created_at: must not be in the future');
  }
  return {
    user: {
      email,
      username,
      displayName,
      passwordHash: hash === '' ? null : hash,
      roles,
      emailVerified: e.emailVerified,
      createdAt,
      externalId,
    },
  };
}

/**
 * Creates up to 1000 users with their existing password hashes (verified at login and upgraded
 * to argon2id on the first success) in ONE transaction together with the call's audit event.
 * Each entry succeeds or fails on its own: invalid entries are refused before the transaction,
 * and a taken email or username (also by an earlier entry) is skipped by ON CONFLICT DO
 * NOTHING instead of aborting the transaction, so no savepoint per row is needed (a thousand
 * subtransactions would overflow PostgreSQL's per-backend subtransaction cache).
 */
export async function importUsers(
  deps: Pick<AdminDeps, 'hasher'>,
  audit: AuditScope,
  entries: readonly ImportEntry[],
): Promise<ImportResult[]> {
  checkImportBatchSize(entries.length, 'users', 'users');
  const now = Date.now();
  const checked = entries.map((e) => checkEntry(deps, e, now));
  // Built inside the transaction: a retried transaction (deadlock) starts from scratch.
  return audit.transaction(async (tx) => {
    const results: ImportResult[] = [];
    for (const [index, entry] of checked.entries()) {
      const result = { index, email: entries[index]?.email ?? '', ok: false, userId: '' };
      if ('failure' in entry) {
        const errorReason = importErrorReason(entry.failure);
        results.push({ ...result, errorReason, errorMessage: entry.message });
        continue;
      }
      const id = await insertImportedUser(tx, entry.user);
      if (id !== null) {
        results.push({ ...result, ok: true, userId: id, errorReason: '', errorMessage: '' });
        continue;
      }
      const taken = await findUserConflict(
        tx,
        entry.user.email.normalized,
        entry.user.username?.normalized ?? null,
      );
      results.push({
        ...result,
        errorReason: importErrorReason({
          reason: taken === 'username' ? 'USERNAME_TAKEN' : 'EMAIL_TAKEN',
        }),
        errorMessage:
          taken === 'username'
            ? 'the username belongs to another account'
            : 'the email address belongs to another account',
      });
    }
    const imported = results.filter((r) => r.ok).length;
    audit.note({
      details: { requested: entries.length, imported, failed: entries.length - imported },
    });
    return results;
  });
}
