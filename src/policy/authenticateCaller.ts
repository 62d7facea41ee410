import type { Principal } from '../auth/Principal.ts';
import { AppError } from '../errors/AppError.ts';
import { invalidAccessToken } from '../errors/invalidAccessToken.ts';
import { MAX_ACCESS_TOKEN_LENGTH } from '../grpc/bearerToken.ts';
import type { MethodPolicy } from './MethodPolicy.ts';
import type { Step } from './Step.ts';

/** Resolves a bearer token to a principal, or null when it is not (or no longer) valid. */
export type VerifyBearer = (token: string) => Promise<Principal | null>;

const BEARER_PROBLEMS = {
  absent: 'this call needs an access token in `authorization: Bearer <token>` metadata',
  malformed: 'the `authorization` metadata must be `Bearer <access token>`',
  too_long: `the access token is longer than ${MAX_ACCESS_TOKEN_LENGTH} characters`,
} as const;

/**
 * CALLER_AUTHENTICATED: resolves the principal once, from the bearer token and its live
 * session, and refuses (UNAUTHENTICATED, INVALID_ACCESS_TOKEN) a call without one or with a
 * principal of a kind the policy does not accept.
 */
export function authenticateCaller(policy: MethodPolicy, verifyBearer: VerifyBearer): Step | null {
  if (policy.caller !== 'authenticated') return null;
  const kinds = policy.principalKinds;
  return async (call, next) => {
    const bearer = call.bearer();
    if (bearer.kind !== 'token') {
      throw new AppError('INVALID_ACCESS_TOKEN', BEARER_PROBLEMS[bearer.kind]);
    }
    const principal = await verifyBearer(bearer.token);
    if (principal === null) throw invalidAccessToken();
    if (!kinds.includes(principal.kind)) {
      throw new AppError('INVALID_ACCESS_TOKEN', 'this call does not accept this kind of caller');
    }
    call.principal = principal;
    return next();
  };
}
