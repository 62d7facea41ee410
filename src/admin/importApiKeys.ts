import { apiKeyDisplayPrefix, hashApiKeySecret } from '../apiKeys/apiKeySecret.ts';
import { legacySecretProblem } from '../apiKeys/legacyApiKeySecret.ts';
import { isViolation, normalizeDisplayName, normalizeEmail } from '../auth/normalize.ts';
import type { ApiKeyOwner } from '../domain/ApiKey.ts';
import {
  type ImportErrorReason,
  type ImportFailure,
  importErrorReason,
} from '../errors/importErrorReason.ts';
import { findApiKeyOwnerState, insertImportedApiKey } from '../storage/apiKeys.ts';
import type { Db } from '../storage/Db.ts';
import { findServiceAccountByName } from '../storage/serviceAccounts.ts';
import { findUserByIdentifier } from '../storage/users.ts';
import type { AuditScope } from './AuditScope.ts';
import { checkImportBatchSize, isImportableCreationTime } from './importBatch.ts';
import { normalizeRoles } from './normalizeRoles.ts';

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** One legacy key to import, as the transport read it (see ImportedApiKey in the proto). */
export interface ImportApiKeyEntry {
  /** The secret itself, or the hex SHA-256 of it; null when the request set neither. */
  credential: { kind: 'secret'; secret: string } | { kind: 'secret_sha256'; hex: string } | null;
  /** A user by email, or a service account by name; null when the request set neither. */
  owner: { kind: 'user'; email: string } | { kind: 'service_account'; name: string } | null;
  displayName: string;
  /** Empty: every role the owner holds at the time of the import. */
  roles: readonly string[];
  /** null: the time of the import. */
  createdAt: Date | null;
  expiresAt: Date | null;
  /** Imported revoked. */
  disabled: boolean;
}

/** The outcome of one entry. Never holds the secret. */
export interface ImportApiKeyResult {
  index: number;
  ok: boolean;
  apiKeyId: string;
  displayPrefix: string;
  /** Empty when ok; else the wire value of the failure (importErrorReason). */
  errorReason: ImportErrorReason | '';
  errorMessage: string;
}

/** An owner as the entry names it; the key the batch's owner lookups are shared under. */
type OwnerRef =
  | { kind: 'user'; normalizedEmail: string }
  | { kind: 'service_account'; name: string };

interface CheckedKey {
  secretHash: Buffer;
  displayPrefix: string;
  owner: OwnerRef;
  displayName: string;
  roles: string[] | null;
  createdAt: Date | null;
  expiresAt: Date | null;
  disabled: boolean;
}

type Refusal = { failure: ImportFailure; message: string };
type Checked = { key: CheckedKey } | Refusal;

/** An entry refused before the transaction: VALIDATION_FAILED on `field`. */
const invalid = (field: string, message: string): Refusal => ({
  failure: { reason: 'VALIDATION_FAILED', field },
  message,
});

/** The secret's hash and display prefix, or why the credential cannot be imported. */
function checkCredential(
  credential: ImportApiKeyEntry['credential'],
): { secretHash: Buffer; displayPrefix: string } | Refusal {
  if (credential === null || (credential.kind === 'secret' && credential.secret === '')) {
    return invalid('secret', 'secret or secret_sha256 is required');
  }
  if (credential.kind === 'secret_sha256') {
    if (!SHA256_HEX.test(credential.hex)) {
      return invalid(
        'secret_sha256',
        'secret_sha256 must be 64 hex digits: the SHA-256 of the exact key string',
      );
    }
    // Nothing of the secret is known, so nothing of it can be shown.
    return { secretHash: Buffer.from(credential.hex, 'hex'), displayPrefix: '' };
  }
  const problem = legacySecretProblem(credential.secret);
  if (problem !== null) return invalid('secret', problem);
  return {
    secretHash: hashApiKeySecret(credential.secret),
    displayPrefix: apiKeyDisplayPrefix(credential.secret),
  };
}

function checkOwner(owner: ImportApiKeyEntry['owner']): OwnerRef | Refusal {
  if (owner === null) return invalid('owner', 'user_email or service_account_name is required');
  if (owner.kind === 'service_account') return { kind: 'service_account', name: owner.name.trim() };
  const email = normalizeEmail(owner.email, 'user_email');
  if (isViolation(email)) return invalid('user_email', `user_email: ${email.description}`);
  return { kind: 'user', normalizedEmail: email.normalized };
}

function isRefusal(value: object): value is Refusal {
  return 'failure' in value;
}

function checkEntry(e: ImportApiKeyEntry, now: number): Checked {
  const credential = checkCredential(e.credential);
  if (isRefusal(credential)) return credential;
  const owner = checkOwner(e.owner);
  if (isRefusal(owner)) return owner;
  const roles = normalizeRoles(e.roles);
  if (isViolation(roles)) return invalid('roles', roles.description);
  const displayName = normalizeDisplayName(e.displayName);
  if (isViolation(displayName)) {
    return invalid('display_name', `display_name: ${displayName.description}`);
  }
  const { createdAt, expiresAt } = e;
  if (createdAt !== null && !isImportableCreationTime(createdAt, now)) {
    return invalid('create_time', 'create_time: must not be in the future');
  }
  if (expiresAt !== null && !Number.isFinite(expiresAt.getTime())) {
    return invalid('expire_time', 'expire_time: not a valid time');
  }
  return {
    key: {
      ...credential,
      owner,
      displayName,
      roles: roles.length === 0 ? null : roles,
      createdAt,
      expiresAt,
      disabled: e.disabled,
    },
  };
}

/** The owner a key may be imported for: its id and the roles it holds now (its row locked). */
type Owner = { owner: ApiKeyOwner; roles: string[] };

/**
 * Finds the live owner an entry names and locks its row, so the roles the key is checked
 * against are the ones held at commit (a concurrent demotion waits for the import).
 */
async function findOwner(tx: Db, ref: OwnerRef): Promise<Owner | Refusal> {
  let owner: ApiKeyOwner | null = null;
  if (ref.kind === 'user') {
    const account = await findUserByIdentifier(tx, ref.normalizedEmail);
    if (account !== null) owner = { kind: 'user', id: account.user.id };
  } else {
    const account = await findServiceAccountByName(tx, ref.name);
    if (account !== null) owner = { kind: 'service_account', id: account.id };
  }
  const state = owner && (await findApiKeyOwnerState(tx, owner, { forUpdate: true }));
  if (owner === null || state === null || state.status === 'deleted') {
    return ref.kind === 'user'
      ? { failure: { reason: 'USER_NOT_FOUND' }, message: 'no user has this email address' }
      : {
          failure: { reason: 'SERVICE_ACCOUNT_NOT_FOUND' },
          message: 'no service account has this name',
        };
  }
  return { owner, roles: state.roles };
}

/**
 * Imports up to 1000 keys of a legacy system with their existing secrets, stored only as
 * SHA-256 like every key (src/apiKeys), so whoever holds one keeps using it. Each entry
 * succeeds or fails on its own, and all of them are written in ONE transaction with the call's
 * audit event (counts only, never a secret): invalid entries are refused before it, an unknown
 * owner or roles the owner does not hold are refused inside it, and a secret some key already
 * has (an earlier import, an earlier entry) is ALREADY_EXISTS without aborting the transaction,
 * so re-running a batch is harmless and never duplicates a key.
 */
export async function importApiKeys(
  audit: AuditScope,
  entries: readonly ImportApiKeyEntry[],
): Promise<ImportApiKeyResult[]> {
  checkImportBatchSize(entries.length, 'api_keys', 'keys');
  const now = Date.now();
  const checked = entries.map((e) => checkEntry(e, now));
  // Built inside the transaction: a retried transaction (deadlock) starts from scratch.
  return audit.transaction(async (tx) => {
    const owners = new Map<string, Owner | Refusal>();
    const ownerOf = async (ref: OwnerRef) => {
      const cacheKey = ref.kind === 'user' ? `u:${ref.normalizedEmail}` : `sa:${ref.name}`;
      let found = owners.get(cacheKey);
      if (found === undefined) {
        found = await findOwner(tx, ref);
        owners.set(cacheKey, found);
      }
      return found;
    };
    const results: ImportApiKeyResult[] = [];
    let alreadyExisted = 0;
    for (const [index, entry] of checked.entries()) {
      const refuse = (refusal: Refusal) =>
        results.push({
          index,
          ok: false,
          apiKeyId: '',
          displayPrefix: '',
          errorReason: importErrorReason(refusal.failure),
          errorMessage: refusal.message,
        });
      if (isRefusal(entry)) {
        refuse(entry);
        continue;
      }
      const { key } = entry;
      const owner = await ownerOf(key.owner);
      if (isRefusal(owner)) {
        refuse(owner);
        continue;
      }
      const held = new Set(owner.roles);
      const missing = (key.roles ?? []).filter((r) => !held.has(r));
      if (missing.length > 0) {
        refuse(
          invalid(
            'roles',
            `a key cannot hold roles its owner does not hold: ${missing.join(', ')}`,
          ),
        );
        continue;
      }
      const id = await insertImportedApiKey(tx, {
        owner: owner.owner,
        displayName: key.displayName,
        roles: key.roles ?? owner.roles,
        expiresAt: key.expiresAt,
        secretHash: key.secretHash,
        displayPrefix: key.displayPrefix,
        createdAt: key.createdAt,
        revoked: key.disabled,
      });
      if (id === null) {
        alreadyExisted += 1;
        refuse({
          failure: { reason: 'API_KEY_SECRET_TAKEN' },
          message: 'a key with this secret exists already (imported before, or an earlier entry)',
        });
        continue;
      }
      results.push({
        index,
        ok: true,
        apiKeyId: id,
        displayPrefix: key.displayPrefix,
        errorReason: '',
        errorMessage: '',
      });
    }
    const imported = results.filter((r) => r.ok).length;
    audit.note({
      details: {
        requested: entries.length,
        imported,
        failed: entries.length - imported,
        already_existed: alreadyExisted,
      },
    });
    return results;
  });
}
