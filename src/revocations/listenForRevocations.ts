import pg from 'pg';
import type { Logger } from '../log.ts';

/** The channel migration 0014 announces every new revocation event on (payload: its id). */
const REVOCATIONS_CHANNEL = 'gatehouse_revocations';

export interface RevocationListenerHandlers {
  /** New events were committed (notifications batched per event-loop turn). */
  onNotify(): void;
  /** Notifications may have been missed (the connection dropped and is back): re-read. */
  onGap(): void;
}

export interface RevocationListener {
  /** Resolves once LISTEN is in place for the first time (or rejects if it cannot be). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Keeps one dedicated PostgreSQL connection per instance LISTENing on gatehouse_revocations
 * (the pattern of src/sessions/listenForSessionChanges.ts) and reconnects it with backoff when
 * it drops; every reconnect reports a gap, since notifications sent meanwhile are lost.
 */
export function listenForRevocations(
  databaseUrl: string,
  handlers: RevocationListenerHandlers,
  log: Logger,
  options: { connectTimeoutMs: number },
): RevocationListener {
  let stopped = false;
  let client: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let attempt = 0;
  let pending = false;

  const onNotification = () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      handlers.onNotify();
    });
  };

  const connect = async (): Promise<void> => {
    const c = new pg.Client({
      connectionString: databaseUrl,
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      application_name: 'gatehouse-revocations',
    });
    c.on('notification', onNotification);
    c.on('error', () => {}); // 'end' follows; reconnecting is handled there
    c.on('end', () => {
      if (client !== c || stopped) return;
      client = undefined;
      log.warn('revocation notifications lost their database connection; reconnecting');
      scheduleReconnect();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${REVOCATIONS_CHANNEL}`);
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
          handlers.onGap();
          log.info('revocation notifications restored');
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
