import pg from 'pg';
import type { Logger } from '../log.ts';

/**
 * The channel migrations 0005, 0006 and 0007 announce session revocations, user changes, API key
 * changes, service account changes and changes of the permission model ('authz') on.
 */
const SESSION_CHANGES_CHANNEL = 'gatehouse_session_changes';

/** A batch of committed changes, deduplicated. */
export interface SessionChanges {
  revokedSessionIds: string[];
  changedUserIds: string[];
  /** 'k:' keys revoked, re-dated, re-roled, or whose secrets changed. */
  changedApiKeyIds: string[];
  /** 'sa:' service accounts whose roles or status changed. */
  changedServiceAccountIds: string[];
  /** 'authz': a permission, role, organisation or membership changed (migration 0007). */
  authzChanged: boolean;
}

export interface SessionChangeHandlers {
  /** Committed changes, batched per event-loop turn. */
  onChanges(changes: SessionChanges): Promise<void>;
  /** Notifications may have been missed (the connection dropped): trust nothing cached. */
  onGap(): void;
}

export interface SessionChangeListener {
  /** Resolves once LISTEN is in place for the first time (or rejects if it cannot be). */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Keeps one dedicated PostgreSQL connection LISTENing for session changes and reconnects it
 * with backoff when it drops. Every reconnect reports a gap first, since notifications sent
 * while it was away are lost.
 */
export function listenForSessionChanges(
  databaseUrl: string,
  handlers: SessionChangeHandlers,
  log: Logger,
  options: { connectTimeoutMs: number },
): SessionChangeListener {
  let stopped = false;
  let client: pg.Client | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let attempt = 0;
  let pending: SessionChanges | undefined;

  const flush = () => {
    const batch = pending;
    pending = undefined;
    if (!batch) return;
    handlers.onChanges(batch).catch((err: unknown) => {
      log.warn({ err }, 'could not apply session changes to the cache');
    });
  };
  const onNotification = (message: pg.Notification) => {
    const payload = message.payload ?? '';
    const colon = payload.indexOf(':');
    const kind = payload.slice(0, colon);
    const id = payload.slice(colon + 1);
    if (!pending) {
      pending = {
        revokedSessionIds: [],
        changedUserIds: [],
        changedApiKeyIds: [],
        changedServiceAccountIds: [],
        authzChanged: false,
      };
      setImmediate(flush);
    }
    if (payload === 'authz') pending.authzChanged = true;
    else if (kind === 's') pending.revokedSessionIds.push(id);
    else if (kind === 'u') pending.changedUserIds.push(id);
    else if (kind === 'k') pending.changedApiKeyIds.push(id);
    else if (kind === 'sa') pending.changedServiceAccountIds.push(id);
  };

  const connect = async (): Promise<void> => {
    const c = new pg.Client({
      connectionString: databaseUrl,
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      application_name: 'gatehouse-session-changes',
    });
    c.on('notification', onNotification);
    c.on('error', () => {}); // 'end' follows; reconnecting is handled there
    c.on('end', () => {
      if (client !== c || stopped) return;
      client = undefined;
      log.warn('session change notifications lost their database connection; reconnecting');
      handlers.onGap();
      scheduleReconnect();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${SESSION_CHANGES_CHANNEL}`);
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
          // Whatever was committed while away is unknown: everything cached is re-checked.
          handlers.onGap();
          log.info('session change notifications restored');
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
