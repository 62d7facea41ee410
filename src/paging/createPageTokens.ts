import { createHmac, timingSafeEqual } from 'node:crypto';
import { isUuid } from '../auth/normalize.ts';
import { AppError } from '../errors/AppError.ts';

/**
 * Opaque, tamper-evident page tokens: `v1.<base64url cursor JSON>.<base64url HMAC-SHA256>`.
 * The MAC covers the list kind, the request's filters and the cursor, so a token edited by the
 * client, or replayed with other filters or against another list, is refused.
 */
export interface PageTokens {
  issue(kind: string, filter: unknown, cursor: unknown): Promise<string>;
  /** The cursor inside `token`; INVALID_PAGE_TOKEN unless it was issued for this kind + filter. */
  read(kind: string, filter: unknown, token: string): Promise<unknown>;
}

const MAX_TOKEN_LENGTH = 1024;

export function invalidPageToken(): AppError {
  return new AppError(
    'INVALID_PAGE_TOKEN',
    'page_token is malformed, was tampered with, or was issued for other filters',
    { fieldViolations: [{ field: 'page_token', description: 'not a valid page token' }] },
  );
}

/** `secret()` supplies the HMAC key (it may be loaded lazily from the database). */
export function createPageTokens(secret: () => Promise<Buffer>): PageTokens {
  const mac = async (kind: string, filter: unknown, payload: string) =>
    createHmac('sha256', await secret())
      .update(`gatehouse-page-token\n${kind}\n${JSON.stringify(filter)}\n${payload}`)
      .digest();
  return {
    async issue(kind, filter, cursor) {
      const payload = Buffer.from(JSON.stringify(cursor)).toString('base64url');
      return `v1.${payload}.${(await mac(kind, filter, payload)).toString('base64url')}`;
    },
    async read(kind, filter, token) {
      const parts = token.length <= MAX_TOKEN_LENGTH ? token.split('.') : [];
      const [version, payload, signature] = parts;
      if (parts.length !== 3 || version !== 'v1' || !payload || !signature) {
        throw invalidPageToken();
      }
      // Compare the canonical encodings: base64 decoding ignores spare bits and stray characters.
      const expected = Buffer.from((await mac(kind, filter, payload)).toString('base64url'));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw invalidPageToken();
      }
      try {
        return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
      } catch {
        throw invalidPageToken();
      }
    },
  };
}

// A keyset position on (timestamptz, id), the time as PostgreSQL prints it to the microsecond.
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/;

/**
 * The (time, UUID) cursor of a keyset list from a client's page token; null for the first page
 * (an empty token). INVALID_PAGE_TOKEN for anything this list did not issue.
 */
export async function readTimeIdCursor(
  tokens: PageTokens,
  kind: string,
  filter: unknown,
  token: string,
): Promise<{ time: string; id: string } | null> {
  if (token === '') return null;
  const cursor = await tokens.read(kind, filter, token);
  if (
    !Array.isArray(cursor) ||
    cursor.length !== 2 ||
    typeof cursor[0] !== 'string' ||
    !CURSOR_TIME.test(cursor[0]) ||
    typeof cursor[1] !== 'string' ||
    !isUuid(cursor[1])
  ) {
    throw invalidPageToken();
  }
  return { time: cursor[0], id: cursor[1] };
}

/**
 * Cuts rows fetched with `limit + 1` to one page, and signs the token of the next page (empty
 * when this is the last) from the cursor of the page's last row.
 */
export async function keysetPage<R>(
  tokens: PageTokens,
  kind: string,
  filter: unknown,
  rows: readonly R[],
  limit: number,
  cursorOf: (row: R) => unknown,
): Promise<{ page: R[]; nextPageToken: string }> {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const nextPageToken =
    rows.length > limit && last !== undefined
      ? await tokens.issue(kind, filter, cursorOf(last))
      : '';
  return { page, nextPageToken };
}

/** Where a page of a list ordered by (created_at, id) starts: after this row. */
export interface CreatedAtCursor {
  /** created_at as the page token carries it (UTC, microseconds). */
  createdAt: string;
  id: string;
}

/**
 * One page of a list ordered by (created_at, id): reads the cursor in `pageToken` (valid only
 * for `kind` and `filter`), asks `find` for one row more than `limit` after it, and issues the
 * token of the next page when there is one. `find` runs after the token is checked, so a bad
 * token is refused before any lookup.
 */
export async function createdAtPage<R extends { cursor: CreatedAtCursor }>(
  tokens: PageTokens,
  kind: string,
  filter: unknown,
  pageToken: string,
  limit: number,
  find: (after: CreatedAtCursor | null, rows: number) => Promise<readonly R[]>,
): Promise<{ page: R[]; nextPageToken: string }> {
  const cursor = await readTimeIdCursor(tokens, kind, filter, pageToken);
  const rows = await find(cursor && { createdAt: cursor.time, id: cursor.id }, limit + 1);
  return keysetPage(tokens, kind, filter, rows, limit, (last) => [
    last.cursor.createdAt,
    last.cursor.id,
  ]);
}
