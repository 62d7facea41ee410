import { isApiKeyLike } from '../apiKeys/apiKeySecret.ts';
import type { RequestInfo } from '../auth/AuthDeps.ts';
import type { Principal } from '../auth/Principal.ts';
import { AppError } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { MAX_ACCESS_TOKEN_LENGTH } from '../grpc/bearerToken.ts';
import type { RateLimitBudgets } from '../ratelimit/createRateLimitBudgets.ts';
import type { MethodPolicy } from './MethodPolicy.ts';
import type { Step } from './Step.ts';

/** Resolves a bearer credential to a principal, or null when it is not (or no longer) valid. */
export type VerifyBearer = (token: string, info: RequestInfo) => Promise<Principal | null>;

const BEARER_PROBLEMS = {
  absent: 'this call needs an access token in `authorization: Bearer <token>` metadata',
  malformed: 'the `authorization` metadata must be `Bearer <access token>`',
  too_long: `the access token is longer than ${MAX_ACCESS_TOKEN_LENGTH} characters`,
} as const;

/**
 * CALLER_AUTHENTICATED: resolves the principal once, from the bearer credential (an access
 * token and its live session, or a live API key), and refuses (UNAUTHENTICATED,
 * INVALID_ACCESS_TOKEN) a call without one or with a principal of a kind the policy does not
 * accept. A refused API key (`ghk_...`) spends the per-source credential budget, like a failed
 * login, so keys cannot be tried without limit (an imported legacy key's lookup spends it up
 * front, in authenticateApiKey); every call made with a key spends the key's own budget, unless
 * the policy says `skip_key_budget` (permission checks). Either may refuse with RATE_LIMITED.
 */
export function authenticateCaller(
  policy: MethodPolicy,
  verifyBearer: VerifyBearer,
  limits: Pick<RateLimitBudgets, 'admitSource' | 'admitApiKey'>,
): Step | null {
  if (policy.caller !== 'authenticated') return null;
  const kinds = policy.principalKinds;
  return async (call, next) => {
    const bearer = call.bearer();
    if (bearer.kind !== 'token') {
      throw new AppError('INVALID_ACCESS_TOKEN', BEARER_PROBLEMS[bearer.kind]);
    }
    const principal = await verifyBearer(bearer.token, call.info);
    if (principal === null) {
      if (isApiKeyLike(bearer.token)) await limits.admitSource('credential', call.info.clientIp);
      throw invalidAccessToken();
    }
    if (!kinds.includes(principal.kind)) {
      throw new AppError('INVALID_ACCESS_TOKEN', 'this call does not accept this kind of caller');
    }
    if (principal.kind !== 'user' && policy.spendsKeyBudget) {
      await limits.admitApiKey(principal.apiKeyId);
    }
    call.principal = principal;
    return next();
  };
}
