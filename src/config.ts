import { z } from 'zod';
import type { RateLimitSettings } from './abuse/createRateLimits.ts';
import { type CleanupConfig, cleanupEnvShape, toCleanupConfig } from './cleanup/cleanupConfig.ts';
import { type MailConfig, mailEnvProblems, mailEnvShape, toMailConfig } from './mail/mailConfig.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).default(def);
const optionalInt = (min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number().int().min(min).max(max).optional();
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));
const list = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );

/**
 * Rate-limit budgets when their variable is unset. Development (the default NODE_ENV) runs the
 * same limiter with budgets a person trying the service from a terminal will not reach;
 * production and test use the real ones.
 */
export const RATE_LIMIT_DEFAULTS = {
  production: { ipRead: 1200, ipCredential: 60, account: 20, accountIp: 10 },
  development: { ipRead: 100_000, ipCredential: 10_000, account: 1000, accountIp: 1000 },
} as const;

/** Every environment variable Gatehouse reads, with its default. Nothing else reads process.env. */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATA_DIR: z.string().default('./.data'),
  EMBEDDED_POSTGRES_PORT: int(54329, 1, 65535),

  DATABASE_URL: optionalString,
  DATABASE_POOL_MAX: int(10, 1, 500),
  DATABASE_STATEMENT_TIMEOUT_MS: int(5000, 100),
  DATABASE_CONNECT_TIMEOUT_MS: int(3000, 100),
  MIGRATE_ON_START: bool.default(true),

  REDIS_URL: optionalString,
  REDIS_KEY_PREFIX: z.string().default('gh:'),
  REDIS_COMMAND_TIMEOUT_MS: int(500, 10),
  SESSION_CACHE_LOCAL_TTL_MS: int(500, 0, 60_000),

  GRPC_HOST: z.string().default('0.0.0.0'),
  GRPC_PORT: int(50051, 0, 65535),
  HTTP_HOST: z.string().default('0.0.0.0'),
  HTTP_PORT: int(8080, 0, 65535),
  GRPC_MAX_MESSAGE_BYTES: int(64 * 1024, 1024, 16 * 1024 * 1024),
  GRPC_MAX_METADATA_BYTES: int(16 * 1024, 1024, 1024 * 1024),
  GRPC_MAX_CONCURRENT_STREAMS: int(1000, 1),
  GRPC_MIN_PING_INTERVAL_MS: int(5 * 60_000, 10),
  TLS_CERT_FILE: optionalString,
  TLS_KEY_FILE: optionalString,
  TLS_CLIENT_CA_FILE: optionalString,
  SHUTDOWN_GRACE_MS: int(10_000, 0),
  TRUSTED_PROXIES: list,

  JWT_ISSUER: z.string().min(1).default('gatehouse'),
  JWT_AUDIENCE: z.string().min(1).default('gatehouse'),
  JWT_ALGORITHM: z.enum(['RS256', 'ES256', 'EdDSA']).default('RS256'),
  JWT_CLOCK_SKEW_SEC: int(30, 0, 300),
  JWT_KEY_REFRESH_SEC: int(5, 1, 3600),
  JWT_PRIVATE_KEY_FILE: optionalString,
  ACCESS_TOKEN_TTL_SEC: int(900, 30, 86_400),
  SESSION_IDLE_TIMEOUT_SEC: int(7 * 86_400, 60),
  SESSION_ABSOLUTE_LIFETIME_SEC: int(30 * 86_400, 60),
  REFRESH_REUSE_GRACE_SEC: int(10, 0, 300),

  ARGON2_MEMORY_KIB: int(19_456, 19_456),
  ARGON2_TIME_COST: int(2, 2),
  ARGON2_PARALLELISM: int(1, 1, 16),
  PASSWORD_MIN_LENGTH: int(8, 8, 64),
  PASSWORD_MAX_LENGTH: int(256, 64, 1024),
  // Budgets default by NODE_ENV (RATE_LIMIT_DEFAULTS below); windows are the same everywhere.
  RATE_LIMIT_IP_READ_POINTS: optionalInt(1),
  RATE_LIMIT_IP_READ_WINDOW_SEC: int(60, 1),
  RATE_LIMIT_IP_CREDENTIAL_POINTS: optionalInt(1),
  RATE_LIMIT_IP_CREDENTIAL_WINDOW_SEC: int(60, 1),
  RATE_LIMIT_ACCOUNT_POINTS: optionalInt(1),
  RATE_LIMIT_ACCOUNT_WINDOW_SEC: int(900, 1),
  RATE_LIMIT_ACCOUNT_IP_POINTS: optionalInt(1),
  RATE_LIMIT_ACCOUNT_IP_WINDOW_SEC: int(900, 1),
  LOCKOUT_THRESHOLD: int(5, 1, 1000),
  LOCKOUT_BASE_SEC: int(900, 1),
  LOCKOUT_MAX_SEC: int(86_400, 1),
  PAGE_TOKEN_SECRET: optionalString.refine((v) => v === undefined || v.length >= 32, {
    message: 'at least 32 characters (unset: a per-database secret is generated)',
  }),
  // CLEANUP_* (retention, schedule): see src/cleanup/cleanupConfig.ts
  ...cleanupEnvShape,
  // SMTP_*, MAIL_*, link bases, token lifetimes, REQUIRE_VERIFIED_EMAIL: src/mail/mailConfig.ts
  ...mailEnvShape,
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  logLevel: Env['LOG_LEVEL'];
  dataDir: string;
  database: {
    url: string | undefined;
    poolMax: number;
    statementTimeoutMs: number;
    connectTimeoutMs: number;
    migrateOnStart: boolean;
    embeddedPort: number;
  };
  redis: { url: string | undefined; keyPrefix: string; commandTimeoutMs: number };
  /** In-process layer over the Redis session cache: entry lifetime, 0 = no such layer. */
  sessionCache: { localTtlMs: number };
  grpc: {
    host: string;
    port: number;
    maxMessageBytes: number;
    maxMetadataBytes: number;
    maxConcurrentStreams: number;
    /** Clients pinging more often than this are sent GOAWAY ENHANCE_YOUR_CALM. */
    minPingIntervalMs: number;
    tls: { certFile: string; keyFile: string; clientCaFile: string | undefined } | undefined;
  };
  http: { host: string; port: number };
  shutdownGraceMs: number;
  trustedProxies: string[];
  tokens: {
    issuer: string;
    audience: string;
    algorithm: Env['JWT_ALGORITHM'];
    clockSkewSec: number;
    keyRefreshSec: number;
    privateKeyFile: string | undefined;
    accessTtlSec: number;
    sessionIdleSec: number;
    sessionAbsoluteSec: number;
    reuseGraceSec: number;
  };
  passwords: {
    argon2: { memoryCost: number; timeCost: number; parallelism: number };
    minLength: number;
    maxLength: number;
  };
  lockout: { threshold: number; baseSec: number; maxSec: number };
  rateLimits: RateLimitSettings;
  /** HMAC key of admin page tokens; undefined: a random per-database secret in app_secrets. */
  pageTokenSecret: string | undefined;
  cleanup: CleanupConfig;
  mail: MailConfig;
}

/** Thrown when the environment is invalid; the message names every offending variable. */
export class ConfigError extends Error {}

/** Parses and validates the environment once; fails fast naming the variable. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production') {
    const missing = (['DATABASE_URL', 'REDIS_URL'] as const).filter((k) => e[k] === undefined);
    if (missing.length > 0) {
      throw new ConfigError(
        `invalid configuration:\n${missing.map((k) => `  ${k}: required when NODE_ENV=production (the embedded default is for development only)`).join('\n')}`,
      );
    }
  }
  const mailProblems = mailEnvProblems(e);
  if (mailProblems.length > 0) {
    throw new ConfigError(`invalid configuration:\n${mailProblems.join('\n')}`);
  }
  if ((e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined)) {
    throw new ConfigError(
      'invalid configuration:\n  TLS_CERT_FILE, TLS_KEY_FILE: set both or neither',
    );
  }
  if (e.SESSION_IDLE_TIMEOUT_SEC > e.SESSION_ABSOLUTE_LIFETIME_SEC) {
    throw new ConfigError(
      'invalid configuration:\n  SESSION_IDLE_TIMEOUT_SEC: must not exceed SESSION_ABSOLUTE_LIFETIME_SEC',
    );
  }
  if (e.PASSWORD_MIN_LENGTH > e.PASSWORD_MAX_LENGTH) {
    throw new ConfigError(
      'invalid configuration:\n  PASSWORD_MIN_LENGTH: must not exceed PASSWORD_MAX_LENGTH',
    );
  }
  const budgets =
    e.NODE_ENV === 'development' ? RATE_LIMIT_DEFAULTS.development : RATE_LIMIT_DEFAULTS.production;
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    dataDir: e.DATA_DIR,
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      migrateOnStart: e.MIGRATE_ON_START,
      embeddedPort: e.EMBEDDED_POSTGRES_PORT,
    },
    redis: {
      url: e.REDIS_URL,
      keyPrefix: e.REDIS_KEY_PREFIX,
      commandTimeoutMs: e.REDIS_COMMAND_TIMEOUT_MS,
    },
    sessionCache: { localTtlMs: e.SESSION_CACHE_LOCAL_TTL_MS },
    grpc: {
      host: e.GRPC_HOST,
      port: e.GRPC_PORT,
      maxMessageBytes: e.GRPC_MAX_MESSAGE_BYTES,
      maxMetadataBytes: e.GRPC_MAX_METADATA_BYTES,
      maxConcurrentStreams: e.GRPC_MAX_CONCURRENT_STREAMS,
      minPingIntervalMs: e.GRPC_MIN_PING_INTERVAL_MS,
      tls:
        e.TLS_CERT_FILE !== undefined && e.TLS_KEY_FILE !== undefined
          ? {
              certFile: e.TLS_CERT_FILE,
              keyFile: e.TLS_KEY_FILE,
              clientCaFile: e.TLS_CLIENT_CA_FILE,
            }
          : undefined,
    },
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    trustedProxies: e.TRUSTED_PROXIES,
    tokens: {
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      algorithm: e.JWT_ALGORITHM,
      clockSkewSec: e.JWT_CLOCK_SKEW_SEC,
      keyRefreshSec: e.JWT_KEY_REFRESH_SEC,
      privateKeyFile: e.JWT_PRIVATE_KEY_FILE,
      accessTtlSec: e.ACCESS_TOKEN_TTL_SEC,
      sessionIdleSec: e.SESSION_IDLE_TIMEOUT_SEC,
      sessionAbsoluteSec: e.SESSION_ABSOLUTE_LIFETIME_SEC,
      reuseGraceSec: e.REFRESH_REUSE_GRACE_SEC,
    },
    passwords: {
      argon2: {
        memoryCost: e.ARGON2_MEMORY_KIB,
        timeCost: e.ARGON2_TIME_COST,
        parallelism: e.ARGON2_PARALLELISM,
      },
      minLength: e.PASSWORD_MIN_LENGTH,
      maxLength: e.PASSWORD_MAX_LENGTH,
    },
    rateLimits: {
      ipRead: {
        points: e.RATE_LIMIT_IP_READ_POINTS ?? budgets.ipRead,
        windowSec: e.RATE_LIMIT_IP_READ_WINDOW_SEC,
      },
      ipCredential: {
        points: e.RATE_LIMIT_IP_CREDENTIAL_POINTS ?? budgets.ipCredential,
        windowSec: e.RATE_LIMIT_IP_CREDENTIAL_WINDOW_SEC,
      },
      account: {
        points: e.RATE_LIMIT_ACCOUNT_POINTS ?? budgets.account,
        windowSec: e.RATE_LIMIT_ACCOUNT_WINDOW_SEC,
      },
      accountIp: {
        points: e.RATE_LIMIT_ACCOUNT_IP_POINTS ?? budgets.accountIp,
        windowSec: e.RATE_LIMIT_ACCOUNT_IP_WINDOW_SEC,
      },
    },
    lockout: {
      threshold: e.LOCKOUT_THRESHOLD,
      baseSec: e.LOCKOUT_BASE_SEC,
      maxSec: e.LOCKOUT_MAX_SEC,
    },
    pageTokenSecret: e.PAGE_TOKEN_SECRET,
    cleanup: toCleanupConfig(e),
    mail: toMailConfig(e),
  };
}
