import { invalidArgument } from '../errors/AppError.ts';

/** The most entries one import call (ImportUsers, ImportApiKeys, ImportMemberships) takes. */
export const MAX_IMPORT_BATCH = 1000;
// Clock skew tolerated on a supplied creation time; later than this it is in the future.
const FUTURE_SLACK_MS = 5 * 60_000;

/** Refuses (INVALID_ARGUMENT on `field`) a batch of `count` entries outside 1..`max`. */
export function checkImportBatchSize(
  count: number,
  field: string,
  noun: string,
  max = MAX_IMPORT_BATCH,
): void {
  if (count > 0 && count <= max) return;
  throw invalidArgument([
    {
      field,
      description: `between 1 and ${max} ${noun} per call`,
      reason: count === 0 ? 'REQUIRED' : 'TOO_MANY',
    },
  ]);
}

/** Whether an imported creation time is a real time, not in the future (give or take skew). */
export function isImportableCreationTime(createdAt: Date, now: number): boolean {
  return Number.isFinite(createdAt.getTime()) && createdAt.getTime() <= now + FUTURE_SLACK_MS;
}
