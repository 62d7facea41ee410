import { Cluster, type Redis } from 'ioredis';

/** What changed: a (re)connect, a node gone or added, or slots that moved to another master. */
export type RedisTopologyChange = 'ready' | '+node' | '-node' | 'masters';

/** The master of every slot, as one comparable string. */
function slotMasters(cluster: Cluster): string {
  const ranges: string[] = [];
  let previous: string | undefined;
  cluster.slots.forEach((nodes, slot) => {
    const master = nodes?.[0] ?? '';
    if (master !== previous) ranges.push(`${slot}=${master}`);
    previous = master;
  });
  return ranges.join(',');
}

/**
 * Calls `listener` whenever the Redis behind `client` may have lost writes it acknowledged:
 * every (re)connect of a single Redis; on a cluster also a node connection lost or added and
 * every slot table whose masters differ from the last one seen (a replica promoted by a
 * failover, a resharding). Replication is asynchronous, so a promoted replica may miss the last
 * writes of the master it replaces. Returns a function that stops listening.
 */
export function onRedisTopologyChange(
  client: Redis | Cluster,
  listener: (change: RedisTopologyChange) => void,
): () => void {
  const ready = () => listener('ready');
  client.on('ready', ready);
  if (!(client instanceof Cluster)) return () => client.off('ready', ready);
  let masters = slotMasters(client);
  const added = () => listener('+node');
  const removed = () => listener('-node');
  const refreshed = () => {
    const now = slotMasters(client);
    if (now === masters) return;
    masters = now;
    listener('masters');
  };
  client.on('+node', added);
  client.on('-node', removed);
  client.on('refresh', refreshed);
  return () => {
    client.off('ready', ready);
    client.off('+node', added);
    client.off('-node', removed);
    client.off('refresh', refreshed);
  };
}
