import type { CachedSession } from './SessionCache.ts';

/**
 * Heap an in-process session cache entry takes, estimated: the session id key and the record
 * with its user id and role names, as measured on Node 24 (heap growth per entry over 100,000
 * entries in an lru-cache): 1,120 bytes for a live entry with one role, 570 for a revoked one.
 */
export function sessionEntryBytes(
  sessionId: string,
  value: CachedSession | { state: string },
): number {
  let bytes = 530 + sessionId.length;
  if (value.state === 'live') {
    const live = value as Extract<CachedSession, { state: 'live' }>;
    bytes += 500 + live.userId.length;
    for (const role of live.roles) bytes += 24 + role.length;
  }
  return bytes;
}
