import type { FieldViolation } from '../errors/AppError.ts';

const DAY_MS = 86_400_000;

/**
 * What is wrong with a requested key expiry, or null: it must lie after `now` and at most
 * `maxTtlMs` after it (no bound when null). `field` names it in the BadRequest.
 */
export function checkKeyExpiry(
  expiresAt: Date | null,
  maxTtlMs: number | null,
  now: number,
  field = 'expire_time',
): FieldViolation | null {
  if (expiresAt === null) return null;
  if (expiresAt.getTime() <= now) {
    return { field, description: 'must be in the future', reason: 'OUT_OF_RANGE' };
  }
  if (maxTtlMs !== null && expiresAt.getTime() > now + maxTtlMs) {
    const days = Math.round((maxTtlMs / DAY_MS) * 1000) / 1000;
    return {
      field,
      description: `must be at most ${days} days from now (the maximum key lifetime)`,
      reason: 'OUT_OF_RANGE',
    };
  }
  return null;
}

/**
 * The expiry a key gets: the requested one (already checked), else its `current` one (null for
 * a new key), but never later than `maxTtlMs` from `now`, so without a request a new key lives
 * exactly the maximum lifetime and a rotated one is brought under it.
 */
export function boundedKeyExpiry(
  requested: Date | null,
  current: Date | null,
  maxTtlMs: number | null,
  now: number,
): Date | null {
  if (requested !== null) return requested;
  if (maxTtlMs === null) return current;
  const latest = now + maxTtlMs;
  return current !== null && current.getTime() <= latest ? current : new Date(latest);
}
