import { createRequire } from 'node:module';
import {
  type RateLimiterAbstract,
  type RateLimiterCompatibleAbstract,
  RateLimiterRes,
  type RateLimiterStoreAbstract as RateLimiterStoreAbstractType,
} from 'rate-limiter-flexible';
import type {
  SlidingWindowOperation,
  SlidingWindowReply,
  SlidingWindowRequest,
} from './applySlidingWindow.ts';

// The package's types declare RateLimiterStoreAbstract but its index does not export it at
// runtime; the file is the class every store of the library extends, so it is stable surface.
const RateLimiterStoreAbstract: typeof RateLimiterStoreAbstractType = createRequire(
  import.meta.url,
)('rate-limiter-flexible/lib/RateLimiterStoreAbstract.js');

/** The library's limiter options that a sliding window supports. */
export interface SlidingWindowLimiterOptions {
  points: number;
  /** Window length in seconds; must be positive (a window that never slides is not one). */
  duration: number;
  keyPrefix?: string;
  blockDuration?: number;
  execEvenly?: boolean;
  execEvenlyMinDelayMs?: number;
  inMemoryBlockOnConsumed?: number;
  inMemoryBlockDuration?: number;
  insuranceLimiter?: RateLimiterAbstract | RateLimiterCompatibleAbstract;
}

interface CallOptions {
  customDuration?: number;
}

function toPoints(points: unknown): number {
  const value = typeof points === 'string' ? Number(points) : points;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError('points must be an integer');
  }
  return value;
}

/**
 * Maps rate-limiter-flexible's store hooks (_upsert, _get, _delete, _getRateLimiterRes) onto
 * applySlidingWindow semantics, so the Redis and the in-process limiter differ only in where
 * the state lives. The library then provides consume/penalty/reward/get/set/block/delete,
 * blockDuration, inMemoryBlock*, execEvenly and the insuranceLimiter fallback.
 */
export abstract class SlidingWindowLimiterBase extends RateLimiterStoreAbstract {
  constructor(options: SlidingWindowLimiterOptions) {
    if (!(options.duration > 0)) {
      throw new RangeError('a sliding window needs a positive duration');
    }
    super({ ...options, storeClient: undefined });
    if (this.blockOnConsumed > 0) {
      throw new RangeError('blockOnConsumed is not supported: rejected consumes are not counted');
    }
  }

  /** Runs one operation on the stored state of `rlKey`; null when get finds nothing. */
  protected abstract applyToStore(
    rlKey: string,
    request: SlidingWindowRequest,
  ): Promise<SlidingWindowReply | null>;

  /** Drops all state of `rlKey`; true when there was some. */
  protected abstract removeFromStore(rlKey: string): Promise<boolean>;

  _getRateLimiterRes(
    _rlKey: string,
    changedPoints: number,
    reply: SlidingWindowReply | null,
  ): RateLimiterRes {
    const { consumed, msBeforeNext } = reply ?? { consumed: 0, msBeforeNext: 0 };
    return new RateLimiterRes(
      Math.max(this.points - consumed, 0),
      msBeforeNext,
      consumed,
      changedPoints > 0 && consumed === changedPoints,
    );
  }

  /** Library hook behind consume, reward (negative points), block and set (forceExpire). */
  async _upsert(
    rlKey: string,
    points: unknown,
    msDuration: number,
    forceExpire = false,
  ): Promise<SlidingWindowReply | null> {
    const value = toPoints(points);
    if (forceExpire) return this.#apply(rlKey, 'set', value, msDuration);
    return this.#apply(rlKey, value < 0 ? 'add' : 'consume', value, msDuration);
  }

  /**
   * The base class sends penalty() through _upsert, where it looks like a consume; a penalty
   * must count even past the limit, so it takes its own path.
   */
  async _penalty(key: string | number, points: unknown = 1, options: CallOptions = {}) {
    const rlKey = this.getKey(key);
    const value = toPoints(points);
    const reply = await this.#apply(rlKey, 'add', value, this.#windowMs(options));
    return this._getRateLimiterRes(rlKey, value, reply);
  }

  /** Library hook behind get(). */
  _get(rlKey: string, options: CallOptions = {}): Promise<SlidingWindowReply | null> {
    return this.#apply(rlKey, 'get', 0, this.#windowMs(options));
  }

  /** Library hook behind delete(). */
  _delete(rlKey: string): Promise<boolean> {
    return this.removeFromStore(rlKey);
  }

  #windowMs(options: CallOptions): number {
    const custom = options.customDuration;
    return (custom !== undefined && custom > 0 ? custom : this.duration) * 1000;
  }

  async #apply(
    rlKey: string,
    operation: SlidingWindowOperation,
    points: number,
    msDuration: number,
  ): Promise<SlidingWindowReply | null> {
    if (!(msDuration > 0)) {
      // The library reads a 0 duration (block(key, 0), customDuration: 0) as "forever"; here
      // every key expires, so refuse rather than keep state for good.
      throw new RangeError('duration must be positive: sliding-window keys always expire');
    }
    return this.applyToStore(rlKey, {
      operation,
      points,
      windowMs: Math.ceil(msDuration),
      limit: this.points,
    });
  }
}
