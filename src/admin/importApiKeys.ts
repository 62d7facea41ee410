import { apiKeyDisplayPrefix, hashApiKeySecret } from '../apiKeys/apiKeySecret.ts';
import { maxKeyTtlMs } from '../apiKeys/createApiKey.ts';
import { boundedKeyExpiry, checkKeyExpiry } from '../apiKeys/keyExpiry.ts';
import { legacySecretProblem } from '../apiKeys/legacyApiKeySecret.ts';
import { isViolation, normalizeDisplayName, normalizeEmail } from '../auth/normalize.ts';
import type { ApiKeyLimits } from '../config/apiKeyConfig.ts';
import type { ApiKeyOwner } from '../domain/ApiKey.ts';
import {
  type ImportErrorReason,
  type ImportFailure,
  importErrorReason,
} from '../errors/importErrorReason.ts';
import {
  countLiveApiKeysOfOwner,
  findApiKeyOwnerState,
  insertImportedApiKey,
  isApiKeySecretTaken,
} from '../storage/apiKeys.ts';
import type { Db } from '../storage/Db.ts';
import { findServiceAccountIdByName } from '../storage/serviceAccounts.ts';
import { findUserByIdentifier } from '../storage/users.ts';
import type { AdminDeps } from './AdminDeps.ts';
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

/**
 * The owner a key may be imported for: its id, the roles it holds now (its row locked), and for
 * a user the live keys it holds (counted once, then kept up to date by this batch).
 */
type Owner = { owner: ApiKeyOwner; roles: string[]; liveKeys: number };

/**
 * Finds the live owner an entry names and locks its row, so the roles and the key count that
 * entries are checked against are the ones at commit (a concurrent change waits for the import).
 */
async function findOwner(tx: Db, ref: OwnerRef): Promise<Owner | Refusal> {
  let owner: ApiKeyOwner | null = null;
  if (ref.kind === 'user') {
    const account = await findUserByIdentifier(tx, ref.normalizedEmail);
    if (account !== null) owner = { kind: 'user', id: account.user.id };
  } else {
    const id = await findServiceAccountIdByName(tx, ref.name);
    if (id !== null) owner = { kind: 'service_account', id };
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
  const liveKeys = owner.kind === 'user' ? await countLiveApiKeysOfOwner(tx, owner) : 0;
  return { owner, roles: state.roles, liveKeys };
}

/**
 * Imports one checked key of `owner` under the rules every key follows: roles within the
 * owner's, the maximum lifetime for the owner's kind (no expiry given: exactly that lifetime,
 * as for a new key; a later one is refused; a past one is kept, the key is just inactive), and
 * a user's cap of live keys. A secret some key has already is ALREADY_EXISTS, checked first so
 * that re-running an import answers that and nothing else.
 */
async function importKey(
  tx: Db,
  limits: ApiKeyLimits,
  key: CheckedKey,
  owner: Owner,
  now: number,
): Promise<{ id: string; displayPrefix: string } | Refusal> {
  const taken: Refusal = {
    failure: { reason: 'API_KEY_SECRET_TAKEN' },
    message: 'a key with this secret exists already (imported before, or an earlier entry)',
  };
  const held = new Set(owner.roles);
  const missing = (key.roles ?? []).filter((r) => !held.has(r));
  if (missing.length > 0) {
    return invalid(
      'roles',
      `a key cannot hold roles its owner does not hold: ${missing.join(', ')}`,
    );
  }
  const maxTtlMs = maxKeyTtlMs(limits, owner.owner);
  const tooLate =
    key.expiresAt !== null && key.expiresAt.getTime() > now
      ? checkKeyExpiry(key.expiresAt, maxTtlMs, now)
      : null;
  if (tooLate !== null) return invalid('expire_time', `expire_time: ${tooLate.description}`);
  const expiresAt = boundedKeyExpiry(key.expiresAt, null, maxTtlMs, now);
  const live = !key.disabled && (expiresAt === null || expiresAt.getTime() > now);
  const cap = owner.owner.kind === 'user' && live ? limits.maxKeysPerUser : null;
  if (cap !== null && owner.liveKeys >= cap) {
    if (await isApiKeySecretTaken(tx, key.secretHash)) return taken;
    return {
      failure: { reason: 'API_KEY_LIMIT_REACHED' },
      message: `a user may hold at most ${cap} live API keys (API_KEY_MAX_PER_USER)`,
    };
  }
  const id = await insertImportedApiKey(tx, {
    owner: owner.owner,
    displayName: key.displayName,
    roles: key.roles ?? owner.roles,
    expiresAt,
    secretHash: key.secretHash,
    displayPrefix: key.displayPrefix,
    createdAt: key.createdAt,
    revoked: key.disabled,
  });
  if (id === null) return taken;
  if (live) owner.liveKeys += 1;
  return { id, displayPrefix: key.displayPrefix };
}

/**
 * Imports up to 1000 keys of a legacy system with their existing secrets, stored only as
 * SHA-256 like every key (src/apiKeys), so whoever holds one keeps using it. Each entry
 * succeeds or fails on its own, and all of them are written in ONE transaction with the call's
 * audit event (counts only, never a secret): invalid entries are refused before it, an unknown
 * owner or a rule of keys broken (importKey) inside it, and a secret some key already has (an
 * earlier import, an earlier entry) is ALREADY_EXISTS without aborting the transaction, so
 * re-running a batch is harmless and never duplicates a key.
 */
export async function importApiKeys(
  deps: Pick<AdminDeps, 'apiKeyLimits'>,
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
    const importChecked = async (key: CheckedKey) => {
      const owner = await ownerOf(key.owner);
      return isRefusal(owner) ? owner : importKey(tx, deps.apiKeyLimits, key, owner, now);
    };
    const results: ImportApiKeyResult[] = [];
    for (const [index, entry] of checked.entries()) {
      const outcome = isRefusal(entry) ? entry : await importChecked(entry.key);
      results.push(
        isRefusal(outcome)
          ? {
              index,
              ok: false,
              apiKeyId: '',
              displayPrefix: '',
              errorReason: importErrorReason(outcome.failure),
              errorMessage: outcome.message,
            }
          : {
              index,
              ok: true,
              apiKeyId: outcome.id,
              displayPrefix: outcome.displayPrefix,
              errorReason: '',
              errorMessage: '',
            },
      );
    }
    const imported = results.filter((r) => r.ok).length;
    audit.note({
      details: {
        requested: entries.length,
        imported,
        failed: entries.length - imported,
        already_existed: results.filter((r) => r.errorReason === 'ALREADY_EXISTS').length,
      },
    });
    return results;
  });
}
