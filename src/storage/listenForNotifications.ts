import pg from 'pg';
import type { Logger } from '../log.ts';
import { StartupError } from '../startup/StartupError.ts';
import { isBehindPooler, pooledDirectConnectionProblem } from './isBehindPooler.ts';

export interface NotificationHandlers {
  /** One NOTIFY on the channel (its payload), in the order PostgreSQL delivered them. */
  onNotification(payload: string): void;
  /** The connection dropped: notifications sent from now until it is back are lost. */
  onLost?(): void;
  /** LISTEN is in place again after a drop: whatever was committed meanwhile is unknown. */
  onRestored(): void;
}

export interface NotificationListener {
  /** Resolves once LISTEN is in place for the first time (or rejects if it cannot be). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Keeps one dedicated PostgreSQL connection LISTENing on `channel` and reconnects it with
 * backoff (100 ms doubling to 5 s) when it drops. `what` names the notifications in the log.
 * The session change feed and the revocation stream each keep one per instance.
 * `databaseUrl` must reach PostgreSQL directly (DATABASE_DIRECT_URL): through a transaction-mode
 * pooler LISTEN lands on one server session and its notifications on whichever client holds
 * that session next, so connecting through one is refused (`ready` rejects).
 */
export function listenForNotifications(
  databaseUrl: string,
  options: { channel: string; applicationName: string; what: string; connectTimeoutMs: number },
  handlers: NotificationHandlers,
  log: Logger,
): NotificationListener {
  let stopped = false;
  let client: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let attempt = 0;

  const connect = async (): Promise<void> => {
    const c = new pg.Client({
      connectionString: databaseUrl,
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      application_name: options.applicationName,
    });
    c.on('notification', (message: pg.Notification) => {
      handlers.onNotification(message.payload ?? '');
    });
    c.on('error', () => {}); // 'end' follows; reconnecting is handled there
    c.on('end', () => {
      if (client !== c || stopped) return;
      client = undefined;
      log.warn(`${options.what} lost their database connection; reconnecting`);
      handlers.onLost?.();
      scheduleReconnect();
    });
    try {
      await c.connect();
      if (await isBehindPooler(c)) {
        throw new StartupError(pooledDirectConnectionProblem(`${options.what} (LISTEN/NOTIFY)`));
      }
      // The channel is one of ours, a constant: an identifier, never user input.
      await c.query(`LISTEN ${options.channel}`);
    } catch (err) {
      c.removeAllListeners('end');
      await c.end().catch(() => {});
      throw err;
    }
    if (stopped) {
      await c.end().catch(() => {});
      return;
    }
    client = c;
    attempt = 0;
  };
  const scheduleReconnect = () => {
    if (stopped) return;
    const delay = Math.min(100 * 2 ** attempt, 5000);
    attempt += 1;
    retryTimer = setTimeout(() => {
      connect().then(
        () => {
          handlers.onRestored();
          log.info(`${options.what} restored`);
        },
        () => scheduleReconnect(),
      );
    }, delay);
    retryTimer.unref();
  };

  return {
    ready: connect(),
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => {});
    },
  };
}
