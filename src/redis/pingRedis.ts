import { Cluster, type Redis } from 'ioredis';

const SLOTS = 16384;

/**
 * Resolves when Redis answers: a PING to a single Redis; on a cluster, every slot has a master
 * this client holds a connection to, and every one of those masters answers a PING. A cluster
 * with a master down (before its replica is promoted) is reported unreachable: the calls whose
 * keys lie on it fail over to in-process limits and PostgreSQL.
 */
export async function pingRedis(client: Redis | Cluster): Promise<void> {
  if (!(client instanceof Cluster)) {
    await client.ping();
    return;
  }
  const masters = new Set<string>();
  for (let slot = 0; slot < SLOTS; slot++) {
    const master = client.slots[slot]?.[0];
    if (master === undefined) throw new Error(`redis cluster slot ${slot} has no known master`);
    masters.add(master);
  }
  const connected = new Map(
    client.nodes('master').map((node) => [`${node.options.host}:${node.options.port}`, node]),
  );
  await Promise.all(
    [...masters].map((key) => {
      const node = connected.get(key);
      if (node === undefined) throw new Error(`redis cluster master ${key} is not connected`);
      return node.ping();
    }),
  );
}
