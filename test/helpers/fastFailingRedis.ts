import { Redis, type RedisOptions } from 'ioredis';

/** A client configured like the request path's (createRedis.ts): fails fast instead of queueing while down. */
export function fastFailingClient(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 200,
    connectTimeout: 500,
    retryStrategy: () => 50,
    ...options,
  });
  client.on('error', () => {}); // reconnect noise; the store sees failures on its calls
  return client;
}

/** Resolves once `client` is ready for commands. */
export function whenReady(client: Redis, timeoutMs = 2000): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('client not ready in time')), timeoutMs);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
