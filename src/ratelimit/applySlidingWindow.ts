/**
 * The sliding-window counter shared by both backends: the in-process store runs this function,
 * Redis runs SLIDING_WINDOW_LUA (rate-limiter-flexible's custom increment script), which mirrors
 * it line by line (same operations in the same order, so both produce identical numbers;
 * createRedisSlidingWindowLimiter.test.ts replays a random sequence against both and compares
 * every reply).
 *
 * Model (two-bucket weighted counter): time is cut into windows aligned on multiples of
 * `windowMs`. A key keeps the total of the previous window and of the current one, and counts
 * `prev * (1 - elapsed / windowMs) + curr` as used, i.e. it assumes the previous window's points
 * were spread evenly and lets them age out linearly. A client that spent everything at the end
 * of one window finds almost nothing free right after the boundary: no double burst.
 */

/** Counts of one key: the aligned window they belong to and the previous/current totals. */
export interface WindowCounts {
  start: number;
  prev: number;
  curr: number;
  expiresAt: number;
}

/**
 * consume: count the points only if they fit (a rejected consume is not counted);
 * add: count unconditionally (negative points give back, e.g. a refund); get: read only.
 */
export type SlidingWindowOperation = 'consume' | 'add' | 'get';

/** One operation on one key: `limit` points per window of `windowMs`. */
export interface SlidingWindowRequest {
  operation: SlidingWindowOperation;
  points: number;
  windowMs: number;
  limit: number;
}

/**
 * consumed: whole points counted after the operation (for a rejected consume: what it would
 * have counted, so the caller sees more than `limit`). msBeforeNext: when points are left, ms
 * until nothing is counted any more; when none are left (or the consume was rejected), ms until
 * the requested points (1 for other operations) fit again.
 */
export interface SlidingWindowReply {
  consumed: number;
  msBeforeNext: number;
}

/** Absorbs floating-point noise from the weighting, so 5 - 1e-15 counts as 5, not as 6. */
const EPSILON = 1e-9;

function wholePoints(points: number): number {
  const whole = Math.ceil(points - EPSILON);
  return whole === 0 ? 0 : whole; // -0 otherwise; Redis replies plain 0
}

/** Share of the previous window still counted at `now`, clamped for clocks that step back. */
function previousWeight(start: number, windowMs: number, now: number): number {
  const weight = 1 - (now - start) / windowMs;
  if (weight > 1) return 1;
  if (weight < 0) return 0;
  return weight;
}

function msUntilEmpty(counts: WindowCounts, weight: number, windowMs: number, now: number): number {
  if (counts.curr > 0) return Math.ceil(counts.start + 2 * windowMs - now);
  if (counts.prev * weight > 0) return Math.ceil(counts.start + windowMs - now);
  return 0;
}

/** ms until the counted points drop to `target` or below, following the linear decay. */
function msUntilAtMost(
  counts: WindowCounts,
  weight: number,
  target: number,
  windowMs: number,
  now: number,
): number {
  if (target < 0) return msUntilEmpty(counts, weight, windowMs, now);
  if (counts.prev * weight + counts.curr <= target + EPSILON) return 0;
  let at: number;
  if (counts.curr <= target) {
    at = counts.start + windowMs * (1 - (target - counts.curr) / counts.prev);
  } else {
    at = counts.start + 2 * windowMs - (windowMs * target) / counts.curr;
  }
  return Math.max(Math.ceil(at - now), 1);
}

/** Applies one operation at time `now` (ms) to the stored counts (undefined: none); returns the counts to store (undefined: delete) and the reply (null: get found nothing). */
export function applySlidingWindow(
  state: WindowCounts | undefined,
  request: SlidingWindowRequest,
  now: number,
): { state: WindowCounts | undefined; reply: SlidingWindowReply | null } {
  const { points, windowMs, limit } = request;
  // A negative consume is a refund; counting it conditionally would make no sense.
  const operation = request.operation === 'consume' && points < 0 ? 'add' : request.operation;

  const stored = state !== undefined && state.expiresAt > now ? state : undefined;
  if (operation === 'get' && stored === undefined) return { state: undefined, reply: null };

  const current = now - (now % windowMs);
  let counts: WindowCounts;
  if (stored === undefined || current - stored.start >= 2 * windowMs) {
    counts = { start: current, prev: 0, curr: 0, expiresAt: 0 };
  } else if (current > stored.start) {
    counts = { start: current, prev: stored.curr, curr: 0, expiresAt: 0 };
  } else {
    // Same window, or a clock behind the one that wrote it: keep counting in the stored window,
    // which over-counts rather than forgets.
    counts = { ...stored };
  }

  const weight = previousWeight(counts.start, windowMs, now);
  const used = counts.prev * weight + counts.curr;

  if (operation === 'consume' && used + points > limit + EPSILON) {
    return {
      state: stored,
      reply: {
        consumed: wholePoints(used + points),
        msBeforeNext: msUntilAtMost(counts, weight, limit - points, windowMs, now),
      },
    };
  }

  if (operation === 'consume' || (operation === 'add' && points >= 0)) {
    counts.curr = counts.curr + points;
  } else if (operation === 'add') {
    // Refund: give back from the current window first, then from the still-counted part of the
    // previous one, so the counted total drops by exactly `-points` (never below zero).
    const take = Math.min(counts.curr, -points);
    counts.curr = counts.curr - take;
    const rest = -points - take;
    if (rest > 0 && weight > 0) counts.prev = Math.max(counts.prev - rest / weight, 0);
  }

  const after = counts.prev * weight + counts.curr;
  const consumed = wholePoints(after);
  const msBeforeNext =
    consumed > limit - 1
      ? msUntilAtMost(counts, weight, limit - 1, windowMs, now)
      : msUntilEmpty(counts, weight, windowMs, now);

  if (operation === 'get') return { state: stored, reply: { consumed, msBeforeNext } };

  // The current window's points still count during the next window, the previous window's only
  // until this one ends; past that the key is worthless, so it expires.
  if (counts.curr <= 0 && counts.prev * weight <= 0) {
    return { state: undefined, reply: { consumed, msBeforeNext } };
  }
  counts.expiresAt = counts.curr > 0 ? counts.start + 2 * windowMs : counts.start + windowMs;
  return { state: counts, reply: { consumed, msBeforeNext } };
}
