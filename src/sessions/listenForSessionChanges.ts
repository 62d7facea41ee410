import type { Logger } from '../log.ts';
import { listenForNotifications } from '../storage/listenForNotifications.ts';

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
 * with backoff when it drops (src/storage/listenForNotifications.ts). A drop reports a gap at
 * once, and the reconnect again, since notifications sent while it was away are lost.
 */
export function listenForSessionChanges(
  databaseUrl: string,
  handlers: SessionChangeHandlers,
  log: Logger,
  options: { connectTimeoutMs: number },
): SessionChangeListener {
  let pending: SessionChanges | undefined;

  const flush = () => {
    const batch = pending;
    pending = undefined;
    if (!batch) return;
    handlers.onChanges(batch).catch((err: unknown) => {
      log.warn({ err }, 'could not apply session changes to the cache');
    });
  };
  const onNotification = (payload: string) => {
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

  return listenForNotifications(
    databaseUrl,
    {
      channel: SESSION_CHANGES_CHANNEL,
      applicationName: 'gatehouse-session-changes',
      what: 'session change notifications',
      connectTimeoutMs: options.connectTimeoutMs,
    },
    {
      onNotification,
      // Trust nothing cached while away, and re-check everything once back.
      onLost: () => handlers.onGap(),
      onRestored: () => handlers.onGap(),
    },
    log,
  );
}
