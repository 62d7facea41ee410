import type { RevocationEvent } from '../domain/RevocationEvent.ts';
import { AppError } from '../errors/AppError.ts';
import { cursorExpired } from './cursorExpired.ts';
import { parseRevocationCursor } from './revocationCursor.ts';
import type { RevocationFeed } from './startRevocationFeed.ts';

/** One message of a revocation stream. */
export type RevocationStreamItem =
  | { kind: 'event'; event: RevocationEvent }
  | {
      kind: 'heartbeat';
      /** The newest position sent so far (the resume point). */
      position: number;
      serverTime: Date;
      accessTokenTtlSec: number;
      retentionSec: number;
    };

/** What the stream counts (src/revocations/revocationMetrics.ts). */
export interface RevocationStreamEvents {
  subscribed(): void;
  unsubscribed(): void;
  sent(events: number): void;
}

export interface WatchRevocationsDeps {
  feed: RevocationFeed;
  heartbeatSec: number;
  accessTokenTtlSec: number;
  retentionSec: number;
  maxLag: number;
  events: RevocationStreamEvents;
}

/** Events written per read while catching up. */
const BATCH = 500;

/**
 * One subscriber of the revocation stream: the events after `afterCursor` (none for "": from
 * now), then new ones as the feed reads them; a heartbeat once caught up and after every
 * REVOCATION_HEARTBEAT_SEC without a message. `send` resolves when the client can take more
 * (backpressure); a subscriber whose `send` stays blocked while more than `maxLag` positions
 * arrive behind it is ended (RESOURCE_EXHAUSTED REVOCATION_SUBSCRIBER_TOO_SLOW) rather than
 * buffered for. Returns when `signal` aborts (client gone, deadline, shutdown).
 */
export async function watchRevocations(
  deps: WatchRevocationsDeps,
  afterCursor: string,
  signal: AbortSignal,
  send: (item: RevocationStreamItem) => Promise<void>,
): Promise<void> {
  const { feed } = deps;
  const requested = parseRevocationCursor(afterCursor);
  let cursor: number;
  if (requested === null) {
    cursor = feed.head;
  } else {
    const { prunedThrough, newest } = await feed.horizon();
    // Older than the kept events, or newer than any (another database, a restored backup):
    // either way the subscriber cannot know what it missed.
    if (requested < prunedThrough || requested > Math.max(newest, feed.head)) {
      throw cursorExpired(prunedThrough);
    }
    cursor = requested;
  }

  let wake: (() => void) | null = null;
  // Set while a send is blocked: the head then, and how to end the stream.
  let blocked: { headThen: number; fail(error: Error): void } | null = null;
  const stopListening = feed.onAdvance(() => {
    wake?.();
    if (blocked !== null && feed.head - blocked.headThen > deps.maxLag) {
      blocked.fail(
        new AppError(
          'REVOCATION_SUBSCRIBER_TOO_SLOW',
          `the stream fell more than ${deps.maxLag} events behind while not reading; ` +
            'reconnect with the cursor of the last event processed',
        ),
      );
    }
  });
  const write = async (item: RevocationStreamItem) => {
    const sending = send(item);
    sending.catch(() => {}); // a rejection after the race below is decided is not news
    const tooSlow = new Promise<never>((_, reject) => {
      blocked = { headThen: feed.head, fail: reject };
    });
    tooSlow.catch(() => {});
    try {
      await Promise.race([sending, tooSlow]);
    } finally {
      blocked = null;
    }
  };

  deps.events.subscribed();
  try {
    let heartbeatDue = true;
    while (!signal.aborted) {
      if (cursor < feed.head) {
        const events = await feed.eventsAfter(cursor, BATCH);
        if (events.length === 0) {
          // The feed holds every event up to its head; nothing there means a bug, not a wait.
          throw new Error(`revocation feed returned no events after ${cursor} below ${feed.head}`);
        }
        for (const event of events) {
          await write({ kind: 'event', event });
          cursor = event.position;
          deps.events.sent(1);
        }
        continue;
      }
      if (heartbeatDue) {
        heartbeatDue = false;
        await write({
          kind: 'heartbeat',
          position: cursor,
          serverTime: new Date(),
          accessTokenTtlSec: deps.accessTokenTtlSec,
          retentionSec: deps.retentionSec,
        });
        continue;
      }
      // Idle: until the feed moves past the cursor, the heartbeat is due, or the call ends.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          heartbeatDue = true;
          done();
        }, deps.heartbeatSec * 1000);
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          wake = null;
          resolve();
        };
        wake = () => {
          if (feed.head > cursor) done();
        };
        signal.addEventListener('abort', done);
        if (signal.aborted || feed.head > cursor) done();
      });
    }
  } finally {
    stopListening();
    deps.events.unsubscribed();
  }
}
