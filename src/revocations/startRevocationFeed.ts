import type { RevocationEvent, RevocationHorizon } from '../domain/RevocationEvent.ts';
import type { Logger } from '../log.ts';
import type { Db } from '../storage/Db.ts';
import {
  findRevocationEventsAfter,
  findRevocationHorizon,
  sequenceRevocationEvents,
} from '../storage/revocationEvents.ts';
import { cursorExpired } from './cursorExpired.ts';
import { listenForRevocations } from './listenForRevocations.ts';

/**
 * This instance's view of the revocation events: one LISTEN connection and one reader shared
 * by every WatchRevocations stream. Each wake-up (a notification, a reconnect) numbers the
 * newly committed events and reads them with one query for all subscribers; recent events stay
 * in memory, so live streams cost no query of their own. Streams that are behind read from
 * PostgreSQL until they reach the head.
 */
export interface RevocationFeed {
  /** The newest position read: every event up to it can be read. */
  readonly head: number;
  /**
   * Events after `position`, oldest first, at most `limit`: from memory when recent, else from
   * PostgreSQL (OUT_OF_RANGE REVOCATION_CURSOR_EXPIRED if some were pruned meanwhile).
   */
  eventsAfter(position: number, limit: number): Promise<RevocationEvent[]>;
  /** The oldest and newest kept positions, as stored now. */
  horizon(): Promise<RevocationHorizon>;
  /** Calls `listener` every time the head moves; returns how to stop. */
  onAdvance(listener: () => void): () => void;
  /** Numbers and reads whatever was committed until now (also run on every notification). */
  refresh(): Promise<void>;
  stop(): Promise<void>;
}

/** Events read per query. */
const BATCH = 1000;
/** Recent events kept in memory (older ones are read from PostgreSQL by streams behind). */
const RECENT = 8192;

/** Starts listening, numbers what is pending and takes the newest position as the head. */
export async function startRevocationFeed(d: {
  databaseUrl: string;
  pool: Db;
  connectTimeoutMs: number;
  log: Logger;
}): Promise<RevocationFeed> {
  const log = d.log.child({ component: 'revocations' });
  let head = 0;
  // Every event in (recentBase, head], in order.
  let recentBase = 0;
  let recent: RevocationEvent[] = [];
  const listeners = new Set<() => void>();
  let stopped = false;
  let running: Promise<void> | null = null;
  let again = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let failures = 0;

  const readNew = async () => {
    await sequenceRevocationEvents(d.pool);
    for (;;) {
      const events = await findRevocationEventsAfter(d.pool, head, BATCH);
      const last = events.at(-1);
      if (last === undefined) return;
      recent.push(...events);
      head = last.position;
      if (recent.length > RECENT) {
        const drop = recent.length - RECENT;
        recentBase = recent[drop - 1]?.position ?? recentBase;
        recent = recent.slice(drop);
      }
      for (const listener of listeners) listener();
      if (events.length < BATCH) return;
    }
  };

  const refresh = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    if (running !== null) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await readNew();
          failures = 0;
        } catch (err) {
          // Nothing is lost: the events stay in PostgreSQL and the next read starts at head.
          failures += 1;
          log.warn({ err }, 'could not read revocation events; retrying');
          clearTimeout(retryTimer);
          retryTimer = setTimeout(() => void refresh(), Math.min(100 * 2 ** failures, 5000));
          retryTimer.unref();
          return;
        }
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
    return running;
  };

  const listener = listenForRevocations(
    d.databaseUrl,
    { onNotify: () => void refresh(), onGap: () => void refresh() },
    log,
    { connectTimeoutMs: d.connectTimeoutMs },
  );
  await listener.ready;
  try {
    // Listening first: whatever commits from here on is either read below or notified.
    await sequenceRevocationEvents(d.pool);
    head = (await findRevocationHorizon(d.pool)).newest;
    recentBase = head;
    await refresh();
  } catch (err) {
    await listener.stop();
    throw err;
  }

  return {
    get head() {
      return head;
    },
    async eventsAfter(position, limit) {
      if (position >= recentBase) {
        // The first recent event after `position` (binary search; positions increase).
        let lo = 0;
        let hi = recent.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if ((recent[mid]?.position ?? 0) <= position) lo = mid + 1;
          else hi = mid;
        }
        return recent.slice(lo, lo + limit);
      }
      const events = await findRevocationEventsAfter(d.pool, position, limit);
      // Read after the events: a prune that removed some of them has moved the horizon.
      const { prunedThrough } = await findRevocationHorizon(d.pool);
      if (prunedThrough > position) throw cursorExpired(prunedThrough);
      return events;
    },
    horizon: () => findRevocationHorizon(d.pool),
    onAdvance(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    refresh,
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      listeners.clear();
      await listener.stop();
      await running;
    },
  };
}
