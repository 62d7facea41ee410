import { Counter, Gauge, type Registry } from 'prom-client';
import type { RevocationStreamEvents } from './watchRevocations.ts';

/** gatehouse_revocation_subscribers and gatehouse_revocation_events_sent_total (no labels). */
export function createRevocationMetrics(registry: Registry): RevocationStreamEvents {
  const subscribers = new Gauge({
    name: 'gatehouse_revocation_subscribers',
    help: 'Open WatchRevocations streams on this instance',
    registers: [registry],
  });
  const sent = new Counter({
    name: 'gatehouse_revocation_events_sent_total',
    help: 'Revocation events written to WatchRevocations streams by this instance',
    registers: [registry],
  });
  return {
    subscribed: () => subscribers.inc(),
    unsubscribed: () => subscribers.dec(),
    sent: (events) => sent.inc(events),
  };
}
