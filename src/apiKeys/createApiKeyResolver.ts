import { LRUCache } from 'lru-cache';
import type { RequestInfo } from '../auth/AuthDeps.ts';
import { type ApiKeyState, effectiveApiKeyRoles, isApiKeyUsable } from '../domain/ApiKey.ts';
import type { Logger } from '../log.ts';
import {
  findApiKeyStateById,
  findApiKeyStateBySecretHash,
  touchApiKeyLastUsed,
} from '../storage/apiKeys.ts';
import { recordAudit } from '../storage/audit.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { hashApiKeySecret, parseApiKeySecret } from './apiKeySecret.ts';
import { isLegacyApiKeySecret } from './legacyApiKeySecret.ts';

/** A key that may be used now, with the roles it acts with now. */
export interface LiveApiKey {
  state: ApiKeyState;
  /** The key's roles that its owner holds now. */
  roles: string[];
}

/**
 * The hot path of API keys: what a presented secret (or an access token minted from a key)
 * stands for right now. PostgreSQL is the truth; this instance keeps what it read for at most
 * API_KEY_CACHE_TTL_MS and forgets it at once when the change feed announces a change of the
 * key, its owner, or a gap in the feed. Unknown, revoked, expired and disabled-owner keys all
 * resolve to the same null.
 */
export interface ApiKeyResolver {
  /**
   * The live key behind `secret`, or null. A secret that is neither a well-formed `ghk_` key
   * (prefix, length, alphabet, checksum) nor of a shape ImportApiKeys accepts for legacy keys
   * is null without any I/O. `beforeRead` runs when the answer is not cached, before the
   * database is read (and may throw to refuse the lookup): the per-source budget of guesses.
   */
  resolveSecret(
    secret: string,
    info: RequestInfo,
    options?: { beforeRead?: () => Promise<void> },
  ): Promise<LiveApiKey | null>;
  /** The live key `apiKeyId` (for tokens minted from it), or null. */
  resolveById(apiKeyId: string, info: RequestInfo): Promise<LiveApiKey | null>;
  /** Reads key `apiKeyId` from PostgreSQL, bypassing the cache (role checks). */
  readById(apiKeyId: string): Promise<LiveApiKey | null>;
  /** Drops what is cached about these keys / the keys of these owners (the change feed). */
  forget(changes: { apiKeyIds?: string[]; ownerIds?: string[] }): void;
  /** Drops everything cached (notifications may have been missed). */
  forgetAll(): void;
}

export interface ApiKeyResolverDeps {
  pool: DatabasePool;
  log: Logger;
  cacheTtlMs: number;
}

const CACHE_SIZE = 10_000;
// last_used_at is written at most once a minute per key by this instance (and the UPDATE's own
// condition keeps all instances together at about that rate); denied uses are audited as rarely.
const TOUCH_INTERVAL_MS = 60_000;

type Cached = { state: ApiKeyState };

/** The key-state cache and resolver of one instance; see ApiKeyResolver. */
export function createApiKeyResolver(deps: ApiKeyResolverDeps): ApiKeyResolver {
  // By 'h:<secret hash hex>' and 'i:<key id>'. Only keys that exist are cached: an unknown
  // secret has no key a change could be announced for.
  const cache = new LRUCache<string, Cached>({ max: CACHE_SIZE, ttl: deps.cacheTtlMs });
  const touched = new LRUCache<string, true>({ max: CACHE_SIZE, ttl: TOUCH_INTERVAL_MS });
  const denied = new LRUCache<string, true>({ max: CACHE_SIZE, ttl: TOUCH_INTERVAL_MS });
  // Bumped by every invalidation: a read that began before one must not refill the cache
  // with what it read (it may be older than the change that was announced).
  let generation = 0;

  const read = async (
    cacheKey: string,
    load: () => Promise<ApiKeyState | null>,
    beforeRead?: () => Promise<void>,
  ): Promise<ApiKeyState | null> => {
    const hit = cache.get(cacheKey);
    if (hit !== undefined) return hit.state;
    await beforeRead?.();
    const startedAt = generation;
    const state = await load();
    if (state !== null && startedAt === generation) cache.set(cacheKey, { state });
    return state;
  };

  /** Records the use (throttled, off the response path) and whether it may go on. */
  const judge = (state: ApiKeyState | null, info: RequestInfo): LiveApiKey | null => {
    if (state === null) return null;
    const now = Date.now();
    if (!isApiKeyUsable(state, now)) {
      auditDenied(state, info);
      return null;
    }
    touch(state, now);
    return { state, roles: effectiveApiKeyRoles(state) };
  };

  const touch = (state: ApiKeyState, now: number) => {
    const id = state.apiKeyId;
    if (touched.has(id)) return;
    touched.set(id, true);
    if (state.lastUsedAt !== null && now - state.lastUsedAt.getTime() < TOUCH_INTERVAL_MS) return;
    touchApiKeyLastUsed(deps.pool, id).catch((err: unknown) => {
      touched.delete(id);
      deps.log.warn({ err, apiKeyId: id }, 'could not record the last use of an API key');
    });
  };

  const auditDenied = (state: ApiKeyState, info: RequestInfo) => {
    const id = state.apiKeyId;
    if (denied.has(id)) return;
    denied.set(id, true);
    const owner = state.owner;
    recordAudit(deps.pool, 'api_key_denied', {
      outcome: 'denied',
      actor: owner.kind === 'user' ? owner.id : null,
      actorServiceAccount: owner.kind === 'service_account' ? owner.id : null,
      apiKey: id,
      request: info,
      details: { reason: deniedReason(state) },
    }).catch((err: unknown) => {
      deps.log.warn({ err, apiKeyId: id }, 'could not record a denied API key use');
    });
  };

  return {
    async resolveSecret(secret, info, options = {}) {
      if (!parseApiKeySecret(secret) && !isLegacyApiKeySecret(secret)) return null;
      const hash = hashApiKeySecret(secret);
      const state = await read(
        `h:${hash.toString('hex')}`,
        () => findApiKeyStateBySecretHash(deps.pool, hash),
        options.beforeRead,
      );
      return judge(state, info);
    },
    async resolveById(apiKeyId, info) {
      const state = await read(`i:${apiKeyId}`, () => findApiKeyStateById(deps.pool, apiKeyId));
      return judge(state, info);
    },
    async readById(apiKeyId) {
      const state = await findApiKeyStateById(deps.pool, apiKeyId);
      return state !== null && isApiKeyUsable(state)
        ? { state, roles: effectiveApiKeyRoles(state) }
        : null;
    },
    forget({ apiKeyIds = [], ownerIds = [] }) {
      generation += 1;
      const keys = new Set(apiKeyIds);
      const owners = new Set(ownerIds);
      const drop: string[] = [];
      for (const [cacheKey, { state }] of cache.entries()) {
        if (keys.has(state.apiKeyId) || owners.has(state.owner.id)) drop.push(cacheKey);
      }
      for (const cacheKey of drop) cache.delete(cacheKey);
    },
    forgetAll() {
      generation += 1;
      cache.clear();
    },
  };
}

/** Why a known key was refused, for the audit row (the caller only ever learns "invalid"). */
function deniedReason(state: ApiKeyState): string {
  if (state.revokedAt !== null) return 'revoked';
  if (state.ownerStatus !== 'active') return `owner_${state.ownerStatus}`;
  return 'expired';
}
