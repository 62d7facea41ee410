import { randomBytes } from 'node:crypto';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { type App, createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import {
  OrganizationAdminServiceClient,
  type OrganizationAdminServiceService,
} from '../../src/gen/gatehouse/admin/v1/organization_admin_service.ts';
import {
  ServiceAccountAdminServiceClient,
  type ServiceAccountAdminServiceService,
} from '../../src/gen/gatehouse/admin/v1/service_account_admin_service.ts';
import {
  UserAdminServiceClient,
  type UserAdminServiceService,
} from '../../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import {
  ApiKeyServiceClient,
  type ApiKeyServiceService,
} from '../../src/gen/gatehouse/auth/v1/api_key_service.ts';
import {
  AuthServiceClient,
  type AuthServiceService,
} from '../../src/gen/gatehouse/auth/v1/auth_service.ts';
import type {
  AuthorizationServiceClient,
  AuthorizationServiceService,
} from '../../src/gen/gatehouse/authz/v1/authorization_service.ts';
import { createLogger } from '../../src/log.ts';
import { createTestDatabase, redisUrl, type TestDatabase } from './testDatabase.ts';

export interface Gatehouse {
  app: App;
  db: TestDatabase;
  target: string;
  auth: AuthServiceClient;
  admin: UserAdminServiceClient;
  serviceAccounts: ServiceAccountAdminServiceClient;
  /** gatehouse.auth.v1.ApiKeyService: a user's own keys. */
  apiKeys: ApiKeyServiceClient;
  /** gatehouse.admin.v1.OrganizationAdminService. */
  organizations: OrganizationAdminServiceClient;
  redisKeyPrefix: string;
  /** Stops the server, the clients, and drops the database unless `keepDatabase`. */
  stop(options?: { keepDatabase?: boolean }): Promise<void>;
}

/**
 * Starts a real Gatehouse on free ports against real PostgreSQL (a fresh database) and Redis
 * (a fresh key prefix), with grpc-js clients connected over TCP.
 */
export async function startGatehouse(
  env: Record<string, string> = {},
  existingDb?: TestDatabase,
): Promise<Gatehouse> {
  await assertRedisReachable();
  const db = existingDb ?? (await createTestDatabase());
  const redisKeyPrefix = `ghtest:${randomBytes(4).toString('hex')}:`;
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: redisKeyPrefix,
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: '0',
    HTTP_HOST: '127.0.0.1',
    CONNECT_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    CONNECT_PORT: '0',
    SHUTDOWN_GRACE_MS: '2000',
    // Tests make many calls from 127.0.0.1; files that test limits set their own.
    RATE_LIMIT_IP_READ_POINTS: '1000000',
    RATE_LIMIT_IP_CREDENTIAL_POINTS: '1000000',
    RATE_LIMIT_ACCOUNT_POINTS: '1000000',
    RATE_LIMIT_ACCOUNT_IP_POINTS: '1000000',
    ...env,
  });
  const app = await createApp(config, createLogger(config.logLevel));
  const target = `127.0.0.1:${app.grpcPort}`;
  const auth = new AuthServiceClient(target, credentials.createInsecure());
  const admin = new UserAdminServiceClient(target, credentials.createInsecure());
  const serviceAccounts = new ServiceAccountAdminServiceClient(
    target,
    credentials.createInsecure(),
  );
  const apiKeys = new ApiKeyServiceClient(target, credentials.createInsecure());
  const organizations = new OrganizationAdminServiceClient(target, credentials.createInsecure());
  return {
    app,
    db,
    target,
    auth,
    admin,
    serviceAccounts,
    apiKeys,
    organizations,
    redisKeyPrefix,
    async stop(options = {}) {
      auth.close();
      admin.close();
      serviceAccounts.close();
      apiKeys.close();
      organizations.close();
      await app.close();
      if (!options.keepDatabase && !existingDb) await db.drop();
    },
  };
}

let redisChecked = false;
async function assertRedisReachable(): Promise<void> {
  if (redisChecked) return;
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2000,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
    redisChecked = true;
  } catch (error) {
    throw new Error(
      `cannot reach Redis at ${new URL(redisUrl).host} (set REDIS_URL): ${(error as Error).message}`,
    );
  } finally {
    client.disconnect();
  }
}

type Definition<C> = C extends AuthServiceClient
  ? typeof AuthServiceService
  : C extends ServiceAccountAdminServiceClient
    ? typeof ServiceAccountAdminServiceService
    : C extends ApiKeyServiceClient
      ? typeof ApiKeyServiceService
      : C extends OrganizationAdminServiceClient
        ? typeof OrganizationAdminServiceService
        : C extends AuthorizationServiceClient
          ? typeof AuthorizationServiceService
          : typeof UserAdminServiceService;
type RequestOf<M> = M extends { requestSerialize: (value: infer R) => Buffer } ? R : never;
type ResponseOf<M> = M extends { responseDeserialize: (value: Buffer) => infer R } ? R : never;

/** Promisified, typed unary call by method name, with optional bearer token and metadata. */
export function call<
  C extends
    | AuthServiceClient
    | UserAdminServiceClient
    | ServiceAccountAdminServiceClient
    | ApiKeyServiceClient
    | OrganizationAdminServiceClient
    | AuthorizationServiceClient,
  K extends keyof Definition<C> & string,
>(
  client: C,
  method: K,
  request: RequestOf<Definition<C>[K]>,
  options: { token?: string; metadata?: Record<string, string>; deadlineMs?: number } = {},
): Promise<ResponseOf<Definition<C>[K]>> {
  return new Promise((resolve, reject) => {
    const md = new Metadata();
    if (options.token !== undefined) md.set('authorization', `Bearer ${options.token}`);
    for (const [k, v] of Object.entries(options.metadata ?? {})) md.set(k, v);
    const fn = (client as unknown as Record<string, (...args: unknown[]) => unknown>)[method];
    if (typeof fn !== 'function') throw new Error(`no such method ${method}`);
    fn.call(
      client,
      request,
      md,
      options.deadlineMs === undefined ? {} : { deadline: Date.now() + options.deadlineMs },
      (err: ServiceError | null, res: ResponseOf<Definition<C>[K]>) =>
        err ? reject(err) : resolve(res),
    );
  });
}
