import { z } from 'zod';
import { type CleanupConfig, cleanupEnvShape, toCleanupConfig } from './cleanup/cleanupConfig.ts';
import {
  type ApiKeyConfig,
  apiKeyEnvRules,
  apiKeyEnvShape,
  toApiKeyConfig,
} from './config/apiKeyConfig.ts';
import { type AuthzConfig, authzEnvShape, toAuthzConfig } from './config/authzConfig.ts';
import {
  type DatabaseConfig,
  databaseEnvRules,
  databaseEnvShape,
  toDatabaseConfig,
} from './config/databaseConfig.ts';
import { type EnvRule, optionalString } from './config/envFields.ts';
import {
  type ExtAuthzConfig,
  extAuthzEnvRules,
  extAuthzEnvShape,
  toExtAuthzConfig,
} from './config/extAuthzConfig.ts';
import { type MfaConfig, mfaEnvShape, toMfaConfig } from './config/mfaConfig.ts';
import {
  type PasswordConfig,
  passwordEnvRules,
  passwordEnvShape,
  toPasswordConfig,
} from './config/passwordConfig.ts';
import {
  type LockoutConfig,
  rateLimitEnvShape,
  toLockoutConfig,
  toRateLimitSettings,
} from './config/rateLimitConfig.ts';
import {
  type RedisConfig,
  redisEnvShape,
  type SessionCacheConfig,
  toRedisConfig,
  toSessionCacheConfig,
} from './config/redisConfig.ts';
import {
  type RevocationConfig,
  revocationEnvShape,
  toRevocationConfig,
} from './config/revocationConfig.ts';
import {
  type ConnectConfig,
  type GrpcConfig,
  type HttpConfig,
  servingEnvRules,
  servingEnvShape,
  toConnectConfig,
  toGrpcConfig,
  toHttpConfig,
} from './config/servingConfig.ts';
import {
  type TokenConfig,
  tokenEnvRules,
  tokenEnvShape,
  toTokenConfig,
} from './config/tokenConfig.ts';
import {
  toWebauthnConfig,
  type WebauthnConfig,
  webauthnEnvShape,
} from './config/webauthnConfig.ts';
import { toWebhookConfig, type WebhookConfig, webhookEnvShape } from './config/webhookConfig.ts';
import { type MailConfig, mailEnvProblems, mailEnvShape, toMailConfig } from './mail/mailConfig.ts';
import type { RateLimitSettings } from './ratelimit/createRateLimitBudgets.ts';
import { maskUrlPassword } from './startup/maskUrlPassword.ts';

/**
 * Every environment variable Gatehouse reads, with its default: one part per area, each in
 * src/config/ (cleanup and mail beside their code). Nothing else reads process.env, except
 * tracing: the OTEL_* variables are the OpenTelemetry SDK's own (src/tracing/).
 */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  DATA_DIR: z.string().default('./.data'),
  ...databaseEnvShape,
  ...redisEnvShape,
  ...servingEnvShape,
  ...tokenEnvShape,
  ...passwordEnvShape,
  ...rateLimitEnvShape,
  ...apiKeyEnvShape,
  ...authzEnvShape,
  // REVOCATION_HEARTBEAT_SEC, REVOCATION_RETENTION_SEC, REVOCATION_MAX_LAG:
  // src/config/revocationConfig.ts
  ...revocationEnvShape,
  // EXT_AUTHZ_* (Envoy ext_authz: credential and identity headers): src/config/extAuthzConfig.ts
  ...extAuthzEnvShape,
  // MFA_ENCRYPTION_KEY, MFA_TOTP_ISSUER, REAUTHENTICATION_WINDOW_SEC, MFA_REQUIRED_ROLES:
  // src/config/mfaConfig.ts
  ...mfaEnvShape,
  // WEBAUTHN_RP_ID, WEBAUTHN_RP_NAME, WEBAUTHN_ORIGINS: src/config/webauthnConfig.ts
  ...webauthnEnvShape,
  // WEBHOOK_* (addresses, timeouts, retries, secret overlap): src/config/webhookConfig.ts
  ...webhookEnvShape,
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
  database: DatabaseConfig;
  redis: RedisConfig;
  sessionCache: SessionCacheConfig;
  grpc: GrpcConfig;
  /** undefined: CONNECT_ENABLED=false. */
  connect: ConnectConfig | undefined;
  http: HttpConfig;
  shutdownGraceMs: number;
  trustedProxies: string[];
  tokens: TokenConfig;
  passwords: PasswordConfig;
  lockout: LockoutConfig;
  rateLimits: RateLimitSettings;
  apiKeys: ApiKeyConfig;
  authz: AuthzConfig;
  revocations: RevocationConfig;
  extAuthz: ExtAuthzConfig;
  mfa: MfaConfig;
  webauthn: WebauthnConfig;
  webhooks: WebhookConfig;
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
const SECRET_VALUES = /SECRET|ENCRYPTION_KEY/;

/** How a rejected value is quoted in a problem line: URLs with the password masked. */
function quoteValue(name: string, value: string): string {
  if (SECRET_VALUES.test(name)) return '';
  const shown = name.endsWith('_URL') ? maskUrlPassword(value) : value;
  return `="${shown.length > 80 ? `${shown.slice(0, 77)}...` : shown}"`;
}

/** A service production cannot run without: the embedded defaults are for development. */
function requiredInProduction(name: 'DATABASE_URL' | 'REDIS_URL'): EnvRule<Env> {
  return {
    reads: ['NODE_ENV', name],
    problems: (e) =>
      e.NODE_ENV === 'production' && e[name] === undefined
        ? [
            `${name}: required when NODE_ENV=production (the embedded default is for development only)`,
          ]
        : [],
  };
}

const mailRule: EnvRule<Env> = {
  reads: ['NODE_ENV', ...(Object.keys(mailEnvShape) as (keyof typeof mailEnvShape)[])],
  problems: (e) => mailEnvProblems(e).map((p) => p.trim()),
};

/**
 * The rules across variables, in the order their problems are reported. The CLIs send no mail
 * and keep no session state: only the database is theirs to need.
 */
function envRules(purpose: ConfigPurpose): EnvRule<Env>[] {
  const needs =
    purpose === 'server'
      ? [requiredInProduction('DATABASE_URL'), requiredInProduction('REDIS_URL'), mailRule]
      : [requiredInProduction('DATABASE_URL')];
  return [
    ...needs,
    ...databaseEnvRules,
    ...servingEnvRules,
    ...tokenEnvRules,
    ...apiKeyEnvRules,
    ...passwordEnvRules,
    ...extAuthzEnvRules,
  ];
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
  const e = values as Env;
  for (const rule of envRules(purpose)) {
    if (rule.reads.every((name) => !failed.has(name))) problems.push(...rule.problems(e));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    dataDir: e.DATA_DIR,
    database: toDatabaseConfig(e),
    redis: toRedisConfig(e),
    sessionCache: toSessionCacheConfig(e),
    grpc: toGrpcConfig(e),
    connect: toConnectConfig(e),
    http: toHttpConfig(e),
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    trustedProxies: e.TRUSTED_PROXIES,
    tokens: toTokenConfig(e),
    passwords: toPasswordConfig(e),
    rateLimits: toRateLimitSettings(e),
    lockout: toLockoutConfig(e),
    apiKeys: toApiKeyConfig(e),
    authz: toAuthzConfig(e),
    revocations: toRevocationConfig(e),
    extAuthz: toExtAuthzConfig(e),
    mfa: toMfaConfig(e),
    webauthn: toWebauthnConfig(e),
    webhooks: toWebhookConfig(e),
    pageTokenSecret: e.PAGE_TOKEN_SECRET,
    cleanup: toCleanupConfig(e),
    mail: toMailConfig(e),
  };
}
