import { AppError } from '../errors/AppError.ts';
import { formatRevocationCursor } from './revocationCursor.ts';

/** OUT_OF_RANGE REVOCATION_CURSOR_EXPIRED, naming the oldest cursor that can still be resumed. */
export function cursorExpired(prunedThrough: number): AppError {
  return new AppError(
    'REVOCATION_CURSOR_EXPIRED',
    'events after this cursor are no longer kept (or the cursor is unknown to this database): ' +
      'treat tokens issued before now as unverified and start again from ""',
    { metadata: { oldest_cursor: formatRevocationCursor(prunedThrough) } },
  );
}
