import { readFileSync } from 'node:fs';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { PermissionCache } from '../authz/createPermissionCache.ts';
import type { Config } from '../config.ts';
import { OrganizationAdminServiceService } from '../gen/gatehouse/admin/v1/organization_admin_service.ts';
import { ServiceAccountAdminServiceService } from '../gen/gatehouse/admin/v1/service_account_admin_service.ts';
import { UserAdminServiceService } from '../gen/gatehouse/admin/v1/user_admin_service.ts';
import { WebhookAdminServiceService } from '../gen/gatehouse/admin/v1/webhook_admin_service.ts';
import { ApiKeyServiceService } from '../gen/gatehouse/auth/v1/api_key_service.ts';
import { AuthServiceService } from '../gen/gatehouse/auth/v1/auth_service.ts';
import { AuthorizationServiceService } from '../gen/gatehouse/authz/v1/authorization_service.ts';
import { createAdminHandlers } from '../grpc/adminHandlers.ts';
import { createApiKeyHandlers } from '../grpc/apiKeyHandlers.ts';
import { createAuthHandlers } from '../grpc/authHandlers.ts';
import { createAuthorizationHandlers } from '../grpc/authorizationHandlers.ts';
import { type BindDeps, bindService } from '../grpc/bindService.ts';
import { createClientAddressResolver } from '../grpc/clientAddress.ts';
import { createMetadataLimitInterceptor } from '../grpc/createMetadataLimitInterceptor.ts';
import { DEFAULT_MAX_PING_STRIKES, enforcePingPolicy } from '../grpc/enforcePingPolicy.ts';
import { loadEnvoyAuthorizationService, readEnvoyImage } from '../grpc/envoyAuthorization.ts';
import { createExtAuthzHandlers } from '../grpc/extAuthzHandlers.ts';
import { loadPackageDefinition } from '../grpc/loadPackageDefinition.ts';
import { createOrganizationAdminHandlers } from '../grpc/organizationAdminHandlers.ts';
import { createServiceAccountAdminHandlers } from '../grpc/serviceAccountAdminHandlers.ts';
import { createWebhookAdminHandlers } from '../grpc/webhookAdminHandlers.ts';
import type { HealthMonitor } from '../health/createHealthMonitor.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics/createMetrics.ts';
import type { MethodPolicy } from '../policy/MethodPolicy.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
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

/** `Login` of `/gatehouse.auth.v1.AuthService/Login` (the metrics label). */
const methodName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/**
 * The gRPC server: the API services through the policy chain, health and reflection, TLS when
 * configured, bound to GRPC_HOST:GRPC_PORT. Returns the server and the port it got.
 */
export async function startGrpcServer(
  config: Config,
  log: Logger,
  deps: GrpcServerDeps,
  closers: Closers,
): Promise<{ server: Server; port: number }> {
  const { services, metrics } = deps;
  const bindDeps: BindDeps = {
    log,
    clientAddress: createClientAddressResolver(config.trustedProxies),
    policies: deps.policies,
    chain: {
      accepting: deps.accepting,
      limits: services.limits,
      verifyBearer: (token, info) => services.auth.authenticate(token, info),
      pool: deps.pool,
      permissions: deps.permissions,
      mfaEnrollment: services.mfaEnrollment,
      reauthenticationWindowSec: services.reauthenticationWindowSec,
    },
    shutdown: deps.shutdown,
    onCallEnd(method, code, durationMs) {
      const name = methodName(method);
      metrics.rpcTotal.inc({ method: name, code: String(code) });
      metrics.rpcDuration.observe({ method: name }, durationMs / 1000);
    },
  };

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
  server.addService(
    AuthServiceService,
    bindService(
      AuthServiceService,
      createAuthHandlers(services.auth, services.revocations),
      bindDeps,
    ),
  );
  server.addService(
    ApiKeyServiceService,
    bindService(ApiKeyServiceService, createApiKeyHandlers(services.apiKeys), bindDeps),
  );
  server.addService(
    UserAdminServiceService,
    bindService(UserAdminServiceService, createAdminHandlers(services.admin), bindDeps),
  );
  server.addService(
    ServiceAccountAdminServiceService,
    bindService(
      ServiceAccountAdminServiceService,
      createServiceAccountAdminHandlers(services.serviceAccounts),
      bindDeps,
    ),
  );
  server.addService(
    OrganizationAdminServiceService,
    bindService(
      OrganizationAdminServiceService,
      createOrganizationAdminHandlers(services.organizations),
      bindDeps,
    ),
  );
  server.addService(
    AuthorizationServiceService,
    bindService(
      AuthorizationServiceService,
      createAuthorizationHandlers(services.authorization),
      bindDeps,
    ),
  );
  server.addService(
    WebhookAdminServiceService,
    bindService(
      WebhookAdminServiceService,
      createWebhookAdminHandlers(services.webhooks),
      bindDeps,
    ),
  );
  // Envoy ext_authz, from Envoy's own protos, through the same binding and call chain.
  const envoyAuthorization = loadEnvoyAuthorizationService(readEnvoyImage());
  server.addService(
    envoyAuthorization,
    bindService(envoyAuthorization, createExtAuthzHandlers(services.extAuthz), bindDeps),
  );
  deps.monitor.health.addToServer(server);
  new ReflectionService(loadPackageDefinition()).addToServer(server);

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
