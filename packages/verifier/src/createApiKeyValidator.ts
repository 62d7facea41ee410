import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Revocation } from './createDenyList.ts';
import { PrincipalType, type ValidateTokenResponse } from './gen/gatehouse/auth/v1/auth_service.ts';
import type { Identity } from './Identity.ts';
import { VerifierError } from './VerifierError.ts';

export interface ApiKeyValidator {
  /** The identity of an API key, from the cache or ValidateToken. Throws VerifierError. */
  verify(secret: string): Promise<Identity>;
  /** Forgets every cached answer about the key, user or service account a revocation names. */
  evict(revocation: Revocation): void;
  /** Cached answers held. */
  size(): number;
}

export interface ApiKeyValidatorOptions {
  /** Calls AuthService.ValidateToken. */
  validate(secret: string): Promise<ValidateTokenResponse>;
  /** How long an answer is reused (ms); 0 = ask every time. */
  cacheMs: number;
  maxEntries: number;
}

interface Answer {
  /** Null: Gatehouse said active = false. */
  identity: Identity | null;
  apiKeyId: string;
  ownerId: string;
}

/** The identity a ValidateToken answer for an API key stands for; null if it is not one. */
function identityOf(res: ValidateTokenResponse): Identity | null {
  const common = {
    roles: Object.freeze([...res.roles]),
    credential: 'api_key' as const,
    tokenId: null,
    issuedAt: null,
    expiresAt: res.expiresAt ?? null,
    permissions: Object.freeze([...res.permissions]),
  };
  if (!res.active || res.apiKeyId === '') return null;
  if (res.principalType === PrincipalType.PRINCIPAL_TYPE_SERVICE_ACCOUNT) {
    return Object.freeze({
      kind: 'service_account',
      serviceAccountId: res.serviceAccountId,
      apiKeyId: res.apiKeyId,
      ...common,
    });
  }
  if (res.principalType === PrincipalType.PRINCIPAL_TYPE_USER_API_KEY) {
    return Object.freeze({
      kind: 'user_api_key',
      userId: res.userId,
      apiKeyId: res.apiKeyId,
      ...common,
    });
  }
  return null;
}

/**
 * API keys (`ghk_...` and imported legacy keys) cannot be verified locally: Gatehouse holds
 * only their hashes. They are delegated to ValidateToken, and its answer (active or not) is
 * reused for `cacheMs`, keyed by the secret's SHA-256 (the secret itself is not kept). A
 * revocation naming the key, its user or its service account evicts the answer at once, and an
 * answer that was in flight while such a revocation arrived is not cached.
 */
export function createApiKeyValidator(options: ApiKeyValidatorOptions): ApiKeyValidator {
  const cache = new LRUCache<string, Answer>({
    max: options.maxEntries,
    ttl: Math.max(1, options.cacheMs),
  });
  const inFlight = new Map<string, Promise<Answer>>();
  // Bumped on every revocation: an answer fetched across one may already be stale.
  let generation = 0;

  async function ask(hash: string, secret: string): Promise<Answer> {
    const started = generation;
    let res: ValidateTokenResponse;
    try {
      res = await options.validate(secret);
    } catch (error) {
      throw new VerifierError('UNAVAILABLE', 'Gatehouse could not validate the API key', {
        cause: error,
      });
    }
    const identity = identityOf(res);
    const answer: Answer = {
      identity,
      apiKeyId: res.apiKeyId,
      ownerId: res.serviceAccountId !== '' ? res.serviceAccountId : res.userId,
    };
    if (options.cacheMs > 0 && started === generation) cache.set(hash, answer);
    return answer;
  }

  return {
    async verify(secret) {
      const hash = createHash('sha256').update(secret).digest('base64url');
      let answer = cache.get(hash);
      if (answer === undefined) {
        let pending = inFlight.get(hash);
        if (pending === undefined) {
          pending = ask(hash, secret).finally(() => inFlight.delete(hash));
          inFlight.set(hash, pending);
        }
        answer = await pending;
      }
      if (answer.identity === null) {
        throw new VerifierError('INVALID_API_KEY', 'the API key is unknown, revoked or expired');
      }
      return answer.identity;
    },
    evict(r) {
      generation++;
      const ids = new Set([r.apiKeyId, r.userId, r.serviceAccountId].filter((id) => id !== ''));
      if (ids.size === 0) return;
      for (const [hash, answer] of cache.entries()) {
        if (ids.has(answer.apiKeyId) || ids.has(answer.ownerId)) cache.delete(hash);
      }
    },
    size: () => cache.size,
  };
}
