import { z } from 'zod';
import { type CleanupConfig, cleanupEnvShape, toCleanupConfig } from './cleanup/cleanupConfig.ts';
import { envBool } from './envBool.ts';
import { type MailConfig, mailEnvProblems, mailEnvShape, toMailConfig } from './mail/mailConfig.ts';
import type { RateLimitSettings } from './ratelimit/createRateLimitBudgets.ts';
import { maskUrlPassword } from './startup/maskUrlPassword.ts';

const bool = envBool;
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .default(def);
const optionalInt = (min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` })
    .optional();
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

/** Why `value` is not a usable PostgreSQL connection URL, or null when it is. */
function postgresUrlProblem(value: string): string | null {
  const expected =
    'expected postgres://user:password@host:5432/database (percent-encode @ : / # ? in the password)';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `not a URL; ${expected}`;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    return `the URL must start with postgres:// or postgresql://; ${expected}`;
  }
  if (url.hostname === '' && !url.searchParams.has('host')) {
    return `no host in the URL; ${expected}`;
  }
  return null;
}

/**
 * Why `value` is not a usable Redis address, or null when it is. Accepts what ioredis accepts:
 * redis:// and rediss:// URLs, a unix socket path, and the scheme-less host:port.
 */
function redisUrlProblem(value: string): string | null {
  if (value.startsWith('/') && !value.startsWith('//')) return null;
  const expected = 'expected redis://[user:password@]host:6379[/db], rediss://… (TLS) or host:port';
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'redis' && scheme !== 'rediss') {
    return `the URL must start with redis:// or rediss://; ${expected}`;
  }
  let url: URL;
  try {
    url = new URL(scheme !== undefined ? value : `redis://${value.replace(/^\/\//, '')}`);
  } catch {
    return `not a URL; ${expected}`;
  }
  if (url.hostname === '') return `no host in the URL; ${expected}`;
  return null;
}

/** An optional URL checked by `problem` (null = fine). */
const checkedUrl = (problem: (value: string) => string | null) =>
  optionalString.superRefine((value, ctx) => {
    const message = value === undefined ? null : problem(value);
    if (message !== null) ctx.addIssue({ code: 'custom', message });
  });

/** Every environment variable Gatehouse reads, with its default. Nothing else reads process.env. */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  DATA_DIR: z.string().default('./.data'),
  EMBEDDED_POSTGRES_PORT: int(54329, 1, 65535),

  DATABASE_URL: checkedUrl(postgresUrlProblem),
  DATABASE_POOL_MAX: int(10, 1, 500),
  DATABASE_STATEMENT_TIMEOUT_MS: int(5000, 100),
  DATABASE_CONNECT_TIMEOUT_MS: int(3000, 100),
  MIGRATE_ON_START: bool.default(true),

  REDIS_URL: checkedUrl(redisUrlProblem),
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
  /** json (default) or pretty (human-readable lines, for development). */
  logFormat: Env['LOG_FORMAT'];
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

/**
 * Thrown when the environment is invalid. `problems` holds one self-contained line per invalid
 * setting (variable name first), all of them at once; the message joins them.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** Who reads the configuration: the server needs everything, the CLIs only the database. */
export type ConfigPurpose = 'server' | 'cli';

/** Variables whose values are never echoed in a problem line (URLs are shown masked). */
const SECRET_VALUES = /SECRET/;

/** How a rejected value is quoted in a problem line: URLs with the password masked. */
function quoteValue(name: string, value: string): string {
  if (SECRET_VALUES.test(name)) return '';
  const shown = name.endsWith('_URL') ? maskUrlPassword(value) : value;
  return `="${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}"`;
}

/**
 * Parses and validates the environment once. Every problem is collected (each variable on its
 * own, then production requirements, mail, TLS pairing and cross-field rules, each rule only when
 * the variables it compares are valid) and reported together in one ConfigError.
 */
export function loadConfig(
  source: NodeJS.ProcessEnv = process.env,
  options: { purpose?: ConfigPurpose } = {},
): Config {
  const purpose = options.purpose ?? 'server';
  const problems: string[] = [];
  const failed = new Set<string>();
  const values: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(envSchema.shape)) {
    const raw = source[name];
    const parsed = (schema as z.ZodType).safeParse(raw);
    if (parsed.success) {
      values[name] = parsed.data;
      continue;
    }
    failed.add(name);
    const shown = typeof raw === 'string' ? quoteValue(name, raw) : '';
    for (const issue of parsed.error.issues) problems.push(`${name}${shown}: ${issue.message}`);
  }
  const valid = (...names: string[]) => names.every((n) => !failed.has(n));
  const e = values as Env;

  if (valid('NODE_ENV') && e.NODE_ENV === 'production') {
    // The CLIs send no mail and keep no session state: only the database is theirs to need.
    const required =
      purpose === 'server' ? (['DATABASE_URL', 'REDIS_URL'] as const) : ['DATABASE_URL' as const];
    for (const name of required) {
      if (valid(name) && e[name] === undefined) {
        problems.push(
          `${name}: required when NODE_ENV=production (the embedded default is for development only)`,
        );
      }
    }
  }
  if (purpose === 'server' && valid('NODE_ENV', ...Object.keys(mailEnvShape))) {
    problems.push(...mailEnvProblems(e).map((p) => p.trim()));
  }
  if (valid('TLS_CERT_FILE', 'TLS_KEY_FILE')) {
    if ((e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined)) {
      problems.push('TLS_CERT_FILE, TLS_KEY_FILE: set both or neither');
    }
  }
  if (valid('SESSION_IDLE_TIMEOUT_SEC', 'SESSION_ABSOLUTE_LIFETIME_SEC')) {
    if (e.SESSION_IDLE_TIMEOUT_SEC > e.SESSION_ABSOLUTE_LIFETIME_SEC) {
      problems.push('SESSION_IDLE_TIMEOUT_SEC: must not exceed SESSION_ABSOLUTE_LIFETIME_SEC');
    }
  }
  if (valid('PASSWORD_MIN_LENGTH', 'PASSWORD_MAX_LENGTH')) {
    if (e.PASSWORD_MIN_LENGTH > e.PASSWORD_MAX_LENGTH) {
      problems.push('PASSWORD_MIN_LENGTH: must not exceed PASSWORD_MAX_LENGTH');
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const budgets =
    e.NODE_ENV === 'development' ? RATE_LIMIT_DEFAULTS.development : RATE_LIMIT_DEFAULTS.production;
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
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
