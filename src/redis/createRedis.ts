import { Cluster, Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { isRedisClusterUrl, parseRedisClusterUrl } from './parseRedisClusterUrl.ts';

export type { Cluster, Redis };

const CONNECT_TIMEOUT_MS = 2000;
const RETRY_DELAY_MS = 100;
const reconnectDelay = (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2000);

/**
 * An ioredis client for request paths: no offline queue and one retry, so a command to a down
 * Redis fails in milliseconds instead of hanging (~73 s with ioredis' defaults); commands
 * time out after `commandTimeoutMs`. Reconnects by itself in the background. A
 * redis+cluster:// (rediss+cluster://) URL gives a Cluster with the same behaviour per node.
 */
export function createRedis(url: string, commandTimeoutMs: number, log: Logger): Redis | Cluster {
  const client = isRedisClusterUrl(url)
    ? createCluster(url, commandTimeoutMs)
    : new Redis(url, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        commandTimeout: commandTimeoutMs,
        connectTimeout: CONNECT_TIMEOUT_MS,
        retryStrategy: reconnectDelay,
        lazyConnect: false,
        // Concurrent calls share round trips: commands issued in one tick go out as one pipeline.
        enableAutoPipelining: true,
      });
  let down = false;
  client.on('error', (err: Error) => {
    if (!down) log.warn({ err: err.message }, 'redis unreachable');
    down = true;
  });
  client.on('ready', () => {
    if (down) log.info('redis reachable again');
    down = false;
  });
  if (client instanceof Cluster) {
    // ioredis retries a lost node every 100 ms or so: one line per node and outage, not per try.
    const unreachable = new Set<string>();
    client.on('node error', (err: Error, node?: string) => {
      const key = node ?? '?';
      if (unreachable.has(key)) return;
      unreachable.add(key);
      log.warn({ err: err.message, node }, 'redis cluster node unreachable');
    });
    client.on('refresh', () => {
      for (const node of client.nodes()) {
        const key = `${node.options.host}:${node.options.port}`;
        if (node.status === 'ready' && unreachable.delete(key)) {
          log.info({ node: key }, 'redis cluster node reachable again');
        }
      }
    });
  }
  return client;
}

function createCluster(url: string, commandTimeoutMs: number): Cluster {
  const address = parseRedisClusterUrl(url);
  return new Cluster(address.nodes, {
    // Commands fail at once while no slot table is known (start-up, every node lost) instead of
    // queueing; callers fall back (in-process limits, PostgreSQL for sessions).
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    // Re-reads the slot table when every node was lost: fast at first, then every 2 s.
    clusterRetryStrategy: reconnectDelay,
    // A failover that nobody's command ran into (a clean CLUSTER FAILOVER) is still noticed.
    slotsRefreshInterval: 5000,
    slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
    // While a master is replaced, a command on its slots retries every 100 ms after re-reading
    // the slot table, as many times as fit in commandTimeout: per node commandTimeout bounds
    // one attempt only, and ioredis' default of 16 redirections made a call wait ~1.7 s.
    retryDelayOnFailover: RETRY_DELAY_MS,
    retryDelayOnClusterDown: RETRY_DELAY_MS,
    retryDelayOnTryAgain: RETRY_DELAY_MS,
    maxRedirections: Math.max(2, Math.ceil(commandTimeoutMs / RETRY_DELAY_MS)),
    redisOptions: {
      username: address.username,
      password: address.password,
      ...(address.tls ? { tls: {} } : {}),
      maxRetriesPerRequest: 1,
      commandTimeout: commandTimeoutMs,
      connectTimeout: CONNECT_TIMEOUT_MS,
    },
  });
}
