import type { Logger } from '../log.ts';
import type { Db } from '../storage/Db.ts';
import { type RevocationFeed, startRevocationFeed } from './startRevocationFeed.ts';
import {
  type RevocationStreamEvents,
  type RevocationStreamItem,
  watchRevocations,
} from './watchRevocations.ts';

/** AuthService.WatchRevocations' use case, over this instance's one feed. */
export interface RevocationService {
  /** Streams to `send` until `signal` aborts (see watchRevocations). */
  watch(
    afterCursor: string,
    signal: AbortSignal,
    send: (item: RevocationStreamItem) => Promise<void>,
  ): Promise<void>;
  /** The feed (tests and the cleanup job read its head). */
  feed: RevocationFeed;
  stop(): Promise<void>;
}

/** Starts the instance's revocation feed and binds the stream's settings to it. */
export async function createRevocationService(d: {
  databaseUrl: string;
  pool: Db;
  connectTimeoutMs: number;
  log: Logger;
  heartbeatSec: number;
  accessTokenTtlSec: number;
  retentionSec: number;
  maxLag: number;
  events: RevocationStreamEvents;
}): Promise<RevocationService> {
  const feed = await startRevocationFeed(d);
  const deps = { ...d, feed };
  return {
    watch: (afterCursor, signal, send) => watchRevocations(deps, afterCursor, signal, send),
    feed,
    stop: () => feed.stop(),
  };
}
