import { readFileSync } from 'node:fs';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { PermissionCache } from '../authz/createPermissionCache.ts';
import type { Config } from '../config.ts';
import { bindService } from '../grpc/bindService.ts';
import { createMetadataLimitInterceptor } from '../grpc/createMetadataLimitInterceptor.ts';
import { createReflectionService } from '../grpc/createReflectionService.ts';
import { DEFAULT_MAX_PING_STRIKES, enforcePingPolicy } from '../grpc/enforcePingPolicy.ts';
import { loadEnvoyAuthorizationService, readEnvoyImage } from '../grpc/envoyAuthorization.ts';
import { createExtAuthzHandlers } from '../grpc/extAuthzHandlers.ts';
import { loadPackageDefinition } from '../grpc/loadPackageDefinition.ts';
import type { HealthMonitor } from '../health/createHealthMonitor.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics/createMetrics.ts';
import type { MethodPolicy } from '../policy/MethodPolicy.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { type ApiService, createBindDeps, methodName } from './apiServices.ts';
import type { Closers } from './createClosers.ts';
import type { Services } from './createServices.ts';
import { hostPort, type ListenTarget, listenFailure } from './listen.ts';

export interface GrpcServerDeps {
  services: Services;
  policies: ReadonlyMap<string, MethodPolicy>;
  pool: DatabasePool;
  /** Effective permissions (call policies with required_permission). */
  permissions: PermissionCache;
  monitor: HealthMonitor;
  metrics: Metrics;
  /** False once the app drains: new calls are refused (SHUTTING_DOWN). */
  accepting(): boolean;
  /** Aborted when the app drains: open streams end (UNAVAILABLE SHUTTING_DOWN). */
  shutdown: AbortSignal;
}

/**
 * The gRPC server: the API services through the policy chain, health and reflection, TLS when
 * configured, bound to GRPC_HOST:GRPC_PORT. Returns the server and the port it got.
 */
export async function startGrpcServer(
  config: Config,
  log: Logger,
  deps: GrpcServerDeps,
  apis: readonly ApiService[],
  closers: Closers,
): Promise<{ server: Server; port: number }> {
  const { metrics } = deps;
  const bindDeps = createBindDeps(config, log, deps);

  // Only options the grpc-js server implements: it ignores `grpc.max_metadata_size` and has no
  // client-ping policy, so the metadata limit is the first interceptor and pings are policed
  // by enforcePingPolicy once the port is bound.
  const server = new Server({
    'grpc.max_receive_message_length': config.grpc.maxMessageBytes,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
    'grpc.max_concurrent_streams': config.grpc.maxConcurrentStreams,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.max_connection_idle_ms': 10 * 60_000,
    // Gatehouse serves no channelz service, so grpc-js's per-call channelz bookkeeping (a
    // tracker object with four closures and clock reads per call) is work nobody reads.
    'grpc.enable_channelz': 0,
    interceptors: [
      createMetadataLimitInterceptor(config.grpc.maxMetadataBytes, log, (method, code) =>
        metrics.rpcTotal.inc({ method: methodName(method), code: String(code) }),
      ),
    ],
  });
  for (const api of apis) {
    server.addService(api.definition, bindService(api.definition, api.handlers, bindDeps));
  }
  // Envoy ext_authz, from Envoy's own protos, through the same binding and call chain.
  const envoyAuthorization = loadEnvoyAuthorizationService(readEnvoyImage());
  server.addService(
    envoyAuthorization,
    bindService(envoyAuthorization, createExtAuthzHandlers(deps.services.extAuthz), bindDeps),
  );
  deps.monitor.health.addToServer(server);
  createReflectionService(loadPackageDefinition()).addToServer(server);

  const credentials = config.grpc.tls
    ? ServerCredentials.createSsl(
        config.grpc.tls.clientCaFile ? readFileSync(config.grpc.tls.clientCaFile) : null,
        [
          {
            private_key: readFileSync(config.grpc.tls.keyFile),
            cert_chain: readFileSync(config.grpc.tls.certFile),
          },
        ],
        config.grpc.tls.clientCaFile !== undefined,
      )
    : ServerCredentials.createInsecure();
  const target: ListenTarget = {
    portSetting: 'GRPC_PORT',
    hostSetting: 'GRPC_HOST',
    host: config.grpc.host,
    port: config.grpc.port,
  };
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(hostPort(config.grpc.host, config.grpc.port), credentials, (err, bound) =>
      err ? reject(listenFailure(err, target)) : resolve(bound),
    );
  });
  closers.push(() => server.forceShutdown());
  enforcePingPolicy(
    server,
    { minIntervalMs: config.grpc.minPingIntervalMs, maxStrikes: DEFAULT_MAX_PING_STRIKES },
    log,
  );
  return { server, port };
}
