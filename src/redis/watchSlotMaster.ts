import { Cluster, Command, type Redis } from 'ioredis';

const unchanged = () => false;

/**
 * Remembers which node is master of `key`'s slot now; the returned function tells whether that
 * changed since. ioredis follows a MOVED reply (a failover it had not seen yet) by retrying on
 * the new master before it re-reads the slot table, so a read may be answered by a promoted
 * replica before any topology event: a caller that must not trust such an answer checks this.
 * Always false on a single Redis.
 */
export function watchSlotMaster(client: Redis | Cluster, key: string): () => boolean {
  if (!(client instanceof Cluster)) return unchanged;
  const slot = new Command('get', [key]).getSlot();
  if (slot === null) return unchanged;
  const master = client.slots[slot]?.[0];
  return () => client.slots[slot]?.[0] !== master;
}
