import type { RateLimitBudgets } from '../ratelimit/createRateLimitBudgets.ts';
import type { MethodPolicy } from './MethodPolicy.ts';
import type { Step } from './Step.ts';

/** `source_budget`: spends the per-source budget before the caller is checked (RATE_LIMITED). */
export function spendSourceBudget(
  policy: MethodPolicy,
  limits: Pick<RateLimitBudgets, 'admitSource'>,
): Step | null {
  const budget = policy.sourceBudget;
  if (budget === null) return null;
  return async (call, next) => {
    await limits.admitSource(budget, call.info.clientIp);
    return next();
  };
}
