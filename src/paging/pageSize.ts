import type { FieldViolation } from '../errors/AppError.ts';

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;

/** page_size semantics of the list RPCs: 0 means 50, above 500 means 500, negative is invalid. */
export function pageSize(requested: number): number | FieldViolation {
  if (!Number.isInteger(requested) || requested < 0) {
    return { field: 'page_size', description: 'must not be negative', reason: 'OUT_OF_RANGE' };
  }
  return requested === 0 ? DEFAULT_PAGE_SIZE : Math.min(requested, MAX_PAGE_SIZE);
}
