import type { Logger } from '../log.ts';
import { listenForNotifications } from '../storage/listenForNotifications.ts';

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
 * and reconnects it with backoff when it drops (src/storage/listenForNotifications.ts); every
 * reconnect reports a gap, since notifications sent meanwhile are lost.
 */
export function listenForRevocations(
  databaseUrl: string,
  handlers: RevocationListenerHandlers,
  log: Logger,
  options: { connectTimeoutMs: number },
): RevocationListener {
  let pending = false;
  const onNotification = () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      handlers.onNotify();
    });
  };

  return listenForNotifications(
    databaseUrl,
    {
      channel: REVOCATIONS_CHANNEL,
      applicationName: 'gatehouse-revocations',
      what: 'revocation notifications',
      connectTimeoutMs: options.connectTimeoutMs,
    },
    { onNotification, onRestored: () => handlers.onGap() },
    log,
  );
}
