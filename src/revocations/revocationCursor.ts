import { invalidArgument } from '../errors/AppError.ts';

const CURSOR = /^(0|[1-9][0-9]{0,15})$/;

/** The wire form of a position: opaque to clients (they only hand it back). */
export const formatRevocationCursor = (position: number): string => String(position);

/**
 * The position of a cursor this server issued, or null for "" (start from now); anything else
 * is INVALID_ARGUMENT naming after_cursor.
 */
export function parseRevocationCursor(cursor: string): number | null {
  if (cursor === '') return null;
  const position = CURSOR.test(cursor) ? Number(cursor) : Number.NaN;
  if (!Number.isSafeInteger(position)) {
    throw invalidArgument([
      {
        field: 'after_cursor',
        description:
          'is not a cursor of this server; pass the cursor of an event or heartbeat, or "" to start from now',
      },
    ]);
  }
  return position;
}
