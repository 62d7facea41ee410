import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { createRateLimits } from './abuse/createRateLimits.ts';
import { createAdminService } from './admin/createAdminService.ts';
import { createPageTokens } from './admin/createPageTokens.ts';
import { ensureEmbeddedAdmin } from './admin/ensureEmbeddedAdmin.ts';
import type { AuthDeps } from './auth/AuthDeps.ts';
import { createAuthService } from './auth/createAuthService.ts';
import { createPasswordHasher } from './auth/createPasswordHasher.ts';
import { createPasswordPolicy } from './auth/passwordPolicy.ts';
import { startCleanup } from './cleanup/createCleanupRunner.ts';
import type { Config } from './config.ts';
import { UserAdminServiceService } from './gen/gatehouse/admin/v1/user_admin_service.ts';
import { AuthServiceService } from './gen/gatehouse/auth/v1/auth_service.ts';
import { createAdminHandlers } from './grpc/adminHandlers.ts';
import { createAuthHandlers } from './grpc/authHandlers.ts';
import { type BindDeps, bindService } from './grpc/bindService.ts';
import { createClientAddressResolver } from './grpc/clientAddress.ts';
import { createMetadataLimitInterceptor } from './grpc/createMetadataLimitInterceptor.ts';
import { DEFAULT_MAX_PING_STRIKES, enforcePingPolicy } from './grpc/enforcePingPolicy.ts';
import { loadPackageDefinition } from './grpc/loadPackageDefinition.ts';
import { createHealthMonitor, type DependencyProbe } from './health/createHealthMonitor.ts';
import { createHttpServer } from './http/createHttpServer.ts';
import { createKeyStore } from './keys/createKeyStore.ts';
import type { Logger } from './log.ts';
import { createAccountMail } from './mail/createAccountMail.ts';
import { createMailTransport } from './mail/createMailTransport.ts';
import { createOutboxSender } from './mail/createOutboxSender.ts';
import { createMetrics } from './metrics/createMetrics.ts';
import { loadMethodPolicies, readPolicyImage } from './policy/loadMethodPolicies.ts';
import { createRedis, type Redis } from './redis/createRedis.ts';
import { createNearSessionCache } from './sessions/createNearSessionCache.ts';
import { createMemorySessionCache } from './sessions/MemorySessionCache.ts';
import { createRedisSessionCache } from './sessions/RedisSessionCache.ts';
import { startSessionChangeFeed } from './sessions/startSessionChangeFeed.ts';
import { describeListenError, type ListenTarget } from './startup/describeListenError.ts';
import { findStartupProblems } from './startup/findStartupProblems.ts';
import { StartupError } from './startup/StartupError.ts';
import { startupNotices } from './startupNotices.ts';
import { createAppSecretLoader } from './storage/appSecrets.ts';
import { createDatabase } from './storage/createDatabase.ts';
import { checkDatabaseConnection } from './storage/describeDatabaseError.ts';
import { migrate } from './storage/migrate.ts';
import { sql } from './storage/sql.ts';
import { startEmbeddedPostgres } from './storage/startEmbeddedPostgres.ts';

export interface App {
  grpcPort: number;
  httpPort: number;
  databaseUrl: string;
  /** Health goes NOT_SERVING, in-flight calls finish (up to the grace period), then all closes. */
  close(): Promise<void>;
}

/** host:port, with brackets around IPv6 hosts. */
const hostPort = (host: string, port: number) =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/** A failed bind as a StartupError naming the setting (the original error when unknown). */
function listenFailure(error: unknown, target: ListenTarget): Error {
  const line = describeListenError(error, target);
  return line === null ? (error as Error) : new StartupError(line, { cause: error });
}

/** `Login` of `/gatehouse.auth.v1.AuthService/Login` (the metrics label). */
const methodName = (path: string) => path.slice(path.lastIndexOf('/') + 1);

const SERVICE_NAMES = ['gatehouse.auth.v1.AuthService', 'gatehouse.admin.v1.UserAdminService'];

/** The composition root: builds every dependency once and wires them into the servers. */
export async function createApp(config: Config, log: Logger): Promise<App> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) {
      await Promise.resolve()
        .then(fn)
        .catch((err: unknown) => log.warn({ err }, 'error while closing'));
    }
  };
  try {
    // Everything that would stop this start is reported at once, before anything starts.
    const problems = await findStartupProblems(config);
    if (problems.length > 0) throw new StartupError(problems);

    const notices = startupNotices(config);
    for (const warning of notices.warnings) log.warn(warning);
    for (const note of notices.notes) log.info(note);
    let databaseUrl = config.database.url;
    if (databaseUrl === undefined) {
      const embedded = await startEmbeddedPostgres(
        config.dataDir,
        config.database.embeddedPort,
        log,
      );
      cleanups.push(() => embedded.stop());
      databaseUrl = embedded.url;
    }
    await checkDatabaseConnection({
      url: databaseUrl,
      setting: config.database.url === undefined ? 'the embedded PostgreSQL' : 'DATABASE_URL',
      connectTimeoutMs: config.database.connectTimeoutMs,
    });
    if (config.database.migrateOnStart) {
      await migrate(databaseUrl, (m) => log.info(m));
    }
    const pool = await createDatabase({ ...config.database, url: databaseUrl });
    cleanups.push(() => pool.end());

    let redis: Redis | null = null;
    if (config.redis.url !== undefined) {
      redis = createRedis(config.redis.url, config.redis.commandTimeoutMs, log);
      const client = redis;
      cleanups.push(() => client.disconnect());
    } else {
      log.warn(
        'REDIS_URL is not set: sessions cache and rate limits are kept in this process only ' +
          '(single instance, development only)',
      );
    }
    const sessionCache = redis
      ? createNearSessionCache(
          createRedisSessionCache(redis, config.redis.keyPrefix),
          config.sessionCache.localTtlMs,
        )
      : createMemorySessionCache();
    // A Redis that comes back may hold old data (a restored snapshot, a promoted replica): live
    // entries read before it returned are checked against PostgreSQL again.
    redis?.on('ready', () => sessionCache.distrustLive());
    const sessionChanges = await startSessionChangeFeed({
      databaseUrl,
      pool,
      sessionCache,
      revokedTtlMs: (config.tokens.accessTtlSec + config.tokens.clockSkewSec) * 1000,
      connectTimeoutMs: config.database.connectTimeoutMs,
      log,
    });
    cleanups.push(() => sessionChanges.stop());

    const keys = createKeyStore(
      pool,
      {
        issuer: config.tokens.issuer,
        audience: config.tokens.audience,
        algorithm: config.tokens.algorithm,
        accessTtlSec: config.tokens.accessTtlSec,
        clockSkewSec: config.tokens.clockSkewSec,
        refreshSec: config.tokens.keyRefreshSec,
        privateKeyFile: config.tokens.privateKeyFile,
      },
      log,
    );
    await keys.start();
    cleanups.push(() => keys.stop());

    const metrics = createMetrics();
    const limits = createRateLimits(redis, config.redis.keyPrefix, config.rateLimits, log, {
      onRejected: (limit) => metrics.rateLimited.inc({ limit }),
    });
    // Account mail: every instance drains the outbox (docs/mail.md); stopped before the pool ends.
    const outbox = createOutboxSender({
      pool,
      transport: createMailTransport(config.mail, log),
      from: config.mail.from,
      settings: config.mail.sender,
      log,
      metrics: metrics.mail,
    });
    outbox.start();
    cleanups.push(() => outbox.stop());
    const hasher = await createPasswordHasher(
      config.passwords.argon2,
      metrics.authEvents.passwordHash,
    );
    const passwordPolicy = createPasswordPolicy(
      config.passwords.minLength,
      config.passwords.maxLength,
    );
    const configuredPageKey = config.pageTokenSecret;
    const storedPageKey = createAppSecretLoader(pool, 'page_token');
    const deps: AuthDeps = {
      pool,
      keys,
      sessionCache,
      hasher,
      policy: passwordPolicy,
      tokens: {
        accessTtlSec: config.tokens.accessTtlSec,
        clockSkewSec: config.tokens.clockSkewSec,
        sessionIdleSec: config.tokens.sessionIdleSec,
        sessionAbsoluteSec: config.tokens.sessionAbsoluteSec,
        reuseGraceSec: config.tokens.reuseGraceSec,
      },
      passwordMaxLength: config.passwords.maxLength,
      lockout: config.lockout,
      events: metrics.authEvents,
      log,
      mail: createAccountMail(config.mail, () => outbox.wake()),
      requireVerifiedEmail: config.mail.requireVerifiedEmail,
      pageTokens: createPageTokens(async () =>
        configuredPageKey === undefined ? storedPageKey() : Buffer.from(configuredPageKey, 'utf8'),
      ),
      refreshSuccessorKey: createAppSecretLoader(pool, 'refresh_successor'),
    };
    const auth = createAuthService(deps);
    const admin = createAdminService(deps);
    if (config.database.url === undefined) {
      // Embedded dev mode: the first start creates an admin and prints its password once.
      await ensureEmbeddedAdmin(deps, log, (text) => process.stdout.write(text));
    }

    const probes: DependencyProbe[] = [
      { name: 'postgres', check: () => pool.query(sql.typeAlias('void')`SELECT 1`).then(() => {}) },
    ];
    if (redis) {
      const client = redis;
      probes.push({ name: 'redis', check: () => client.ping().then(() => {}) });
    } else {
      // Without REDIS_URL the in-process stores stand in for Redis; they are always there, so
      // gatehouse.redis answers SERVING instead of NOT_FOUND.
      probes.push({ name: 'redis', check: () => Promise.resolve() });
    }
    const monitor = createHealthMonitor(SERVICE_NAMES, probes, log);
    await monitor.start();
    metrics.bindLiveState({
      rateLimitMode: () => limits.status(),
      pool: () => {
        const state = pool.state();
        return {
          acquired: state.acquiredConnections,
          idle: state.idleConnections,
          waiting: state.waitingClients,
        };
      },
      dependencies: () => monitor.snapshot(),
    });
    cleanups.push(() => monitor.stop());
    // Data-lifecycle cleanup: in-process unless pg_cron owns the job (docs/operations-cleanup.md).
    cleanups.push(startCleanup({ pool, log, metrics: metrics.cleanup, config: config.cleanup }));

    let accepting = true;
    const bindDeps: BindDeps = {
      log,
      clientAddress: createClientAddressResolver(config.trustedProxies),
      policies: loadMethodPolicies(readPolicyImage()),
      chain: {
        accepting: () => accepting,
        limits,
        verifyBearer: (token) => auth.authenticate(token),
        pool,
      },
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
      interceptors: [
        createMetadataLimitInterceptor(config.grpc.maxMetadataBytes, log, (method, code) =>
          metrics.rpcTotal.inc({ method: methodName(method), code: String(code) }),
        ),
      ],
    });
    server.addService(
      AuthServiceService,
      bindService(AuthServiceService, createAuthHandlers(auth), bindDeps),
    );
    server.addService(
      UserAdminServiceService,
      bindService(UserAdminServiceService, createAdminHandlers(admin, hasher), bindDeps),
    );
    monitor.health.addToServer(server);
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
    const grpcTarget: ListenTarget = {
      portSetting: 'GRPC_PORT',
      hostSetting: 'GRPC_HOST',
      host: config.grpc.host,
      port: config.grpc.port,
    };
    const grpcPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync(hostPort(config.grpc.host, config.grpc.port), credentials, (err, port) =>
        err ? reject(listenFailure(err, grpcTarget)) : resolve(port),
      );
    });
    cleanups.push(() => server.forceShutdown());
    enforcePingPolicy(
      server,
      { minIntervalMs: config.grpc.minPingIntervalMs, maxStrikes: DEFAULT_MAX_PING_STRIKES },
      log,
    );

    const http: HttpServer = createHttpServer({
      jwks: () => keys.jwks(),
      ready: () => ({ ok: monitor.serving(), dependencies: monitor.snapshot() }),
      metrics: metrics.registry,
      jwksMaxAgeSec: 300,
    });
    const httpTarget: ListenTarget = {
      portSetting: 'HTTP_PORT',
      hostSetting: 'HTTP_HOST',
      host: config.http.host,
      port: config.http.port,
    };
    await new Promise<void>((resolve, reject) => {
      http.once('error', (err) => reject(listenFailure(err, httpTarget)));
      http.listen(config.http.port, config.http.host, () => resolve());
    });
    cleanups.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
    http.unref();
    const httpPort = (http.address() as AddressInfo).port;

    let closing: Promise<void> | undefined;
    return {
      grpcPort,
      httpPort,
      databaseUrl,
      close() {
        closing ??= (async () => {
          monitor.shutdown();
          accepting = false;
          http.closeIdleConnections();
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              log.warn('shutdown grace period over: cancelling remaining calls');
              server.forceShutdown();
              resolve();
            }, config.shutdownGraceMs);
            server.tryShutdown(() => {
              clearTimeout(timer);
              resolve();
            });
          });
          await cleanup();
        })();
        return closing;
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
