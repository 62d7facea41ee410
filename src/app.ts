import { apiServices, createBindDeps } from './app/apiServices.ts';
import { createClosers } from './app/createClosers.ts';
import { createServices } from './app/createServices.ts';
import { type ConnectServer, startConnectServer } from './app/startConnectServer.ts';
import { type GrpcServerDeps, startGrpcServer } from './app/startGrpcServer.ts';
import { startHealth } from './app/startHealth.ts';
import { startHttpServer } from './app/startHttpServer.ts';
import { startStores } from './app/startStores.ts';
import { startCleanup } from './cleanup/createCleanupRunner.ts';
import type { Config } from './config.ts';
import { ENVOY_AUTHORIZATION_POLICIES, readEnvoyImage } from './grpc/envoyAuthorization.ts';
import type { Logger } from './log.ts';
import { createMetrics } from './metrics/createMetrics.ts';
import {
  loadDeclaredPolicies,
  loadMethodPolicies,
  readPolicyImage,
} from './policy/loadMethodPolicies.ts';
import { findStartupProblems } from './startup/findStartupProblems.ts';
import { StartupError } from './startup/StartupError.ts';
import { startupNotices } from './startupNotices.ts';

export interface App {
  grpcPort: number;
  /** The Connect/gRPC-Web/JSON listener's port; undefined with CONNECT_ENABLED=false. */
  connectPort: number | undefined;
  httpPort: number;
  databaseUrl: string;
  /** Health goes NOT_SERVING, in-flight calls finish (up to the grace period), then all closes. */
  close(): Promise<void>;
}

/**
 * The composition root: stores, then services (use cases and what they need, each built once),
 * then health, the gRPC server (every RPC through its call policy) and the HTTP server. What
 * started is closed in reverse, on a failed start as on close().
 */
export async function createApp(config: Config, log: Logger): Promise<App> {
  const closers = createClosers(log);
  try {
    // Everything that would stop this start is reported at once, before anything starts; the
    // call policies are part of it (a method without one must not be served with a guess).
    const problems = await findStartupProblems(config);
    if (problems.length > 0) throw new StartupError(problems);
    // Envoy's Check has no place for the option in Envoy's protos: its policy is declared in
    // TypeScript and validated the same way (src/grpc/envoyAuthorization.ts).
    const policies = new Map([
      ...loadMethodPolicies(readPolicyImage()),
      ...loadDeclaredPolicies(readPolicyImage(), readEnvoyImage(), ENVOY_AUTHORIZATION_POLICIES),
    ]);

    const notices = startupNotices(config);
    for (const warning of notices.warnings) log.warn(warning);
    for (const note of notices.notes) log.info(note);

    const stores = await startStores(config, log, closers);
    const metrics = createMetrics();
    const services = await createServices(config, log, stores, metrics, closers);
    const monitor = await startHealth(stores, services.limits, metrics, log, closers);
    // Data-lifecycle cleanup: in-process unless pg_cron owns the job (docs/operations-cleanup.md).
    closers.push(
      startCleanup({
        pool: stores.pool,
        log,
        metrics: metrics.cleanup,
        config: config.cleanup,
        revocationRetentionSec: config.revocations.retentionSec,
        webhookRetentionDays: config.webhooks.retentionDays,
      }),
    );

    let accepting = true;
    // Streams never finish by themselves: draining ends them so tryShutdown is not held up.
    const draining = new AbortController();
    const serverDeps: GrpcServerDeps = {
      services,
      policies,
      pool: stores.pool,
      permissions: stores.permissions,
      monitor,
      metrics,
      accepting: () => accepting,
      shutdown: draining.signal,
    };
    const apis = apiServices(services);
    const grpc = await startGrpcServer(config, log, serverDeps, apis, closers);
    const connect: ConnectServer | undefined = config.connect
      ? await startConnectServer(
          config.connect,
          log,
          apis,
          createBindDeps(config, log, serverDeps),
          closers,
        )
      : undefined;
    const { http, port: httpPort } = await startHttpServer(
      config,
      { keys: stores.keys, monitor, metrics },
      closers,
    );

    let closing: Promise<void> | undefined;
    return {
      grpcPort: grpc.port,
      connectPort: connect?.port,
      httpPort,
      databaseUrl: stores.databaseUrl,
      close() {
        closing ??= (async () => {
          monitor.shutdown();
          accepting = false;
          draining.abort();
          http.closeIdleConnections();
          connect?.drain();
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              log.warn('shutdown grace period over: cancelling remaining calls');
              grpc.server.forceShutdown();
              connect?.forceClose();
              resolve();
            }, config.shutdownGraceMs);
            Promise.all([
              new Promise<void>((done) => grpc.server.tryShutdown(() => done())),
              connect?.closed(),
            ]).then(() => {
              clearTimeout(timer);
              resolve();
            });
          });
          await closers.closeAll();
        })();
        return closing;
      },
    };
  } catch (error) {
    await closers.closeAll();
    throw error;
  }
}
