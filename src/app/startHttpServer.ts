import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.ts';
import type { HealthMonitor } from '../health/createHealthMonitor.ts';
import { createHttpServer } from '../http/createHttpServer.ts';
import type { KeyStore } from '../keys/createKeyStore.ts';
import type { Metrics } from '../metrics/createMetrics.ts';
import type { Closers } from './createClosers.ts';
import { type ListenTarget, listenFailure } from './listen.ts';

/** The HTTP side (health, readiness, JWKS, metrics) on HTTP_HOST:HTTP_PORT. */
export async function startHttpServer(
  config: Config,
  deps: { keys: KeyStore; monitor: HealthMonitor; metrics: Metrics },
  closers: Closers,
): Promise<{ http: HttpServer; port: number }> {
  const http = createHttpServer({
    jwks: () => deps.keys.jwks(),
    ready: () => ({ ok: deps.monitor.serving(), dependencies: deps.monitor.snapshot() }),
    metrics: deps.metrics.registry,
    jwksMaxAgeSec: 300,
  });
  const target: ListenTarget = {
    portSetting: 'HTTP_PORT',
    hostSetting: 'HTTP_HOST',
    host: config.http.host,
    port: config.http.port,
  };
  await new Promise<void>((resolve, reject) => {
    http.once('error', (err) => reject(listenFailure(err, target)));
    http.listen(config.http.port, config.http.host, () => resolve());
  });
  closers.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
  http.unref();
  return { http, port: (http.address() as AddressInfo).port };
}
