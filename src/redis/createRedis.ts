import { Redis } from 'ioredis';
import type { Logger } from '../log.ts';

export type { Redis };

/**
 * An ioredis client for request paths: no offline queue and one retry, so a command to a down
 * Redis fails in milliseconds instead of hanging (~73 s with ioredis' defaults); commands
 * time out after `commandTimeoutMs`. Reconnects by itself in the background.
 */
export function createRedis(url: string, commandTimeoutMs: number, log: Logger): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
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
  return client;
}
