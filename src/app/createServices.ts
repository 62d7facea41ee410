import { type AdminService, createAdminService } from '../admin/createAdminService.ts';
import {
  createServiceAccountAdminService,
  type ServiceAccountAdminService,
} from '../admin/createServiceAccountAdminService.ts';
import { ensureEmbeddedAdmin } from '../admin/ensureEmbeddedAdmin.ts';
import { type ApiKeyService, createApiKeyService } from '../apiKeys/createApiKeyService.ts';
import type { AuthDeps } from '../auth/AuthDeps.ts';
import { type AuthService, createAuthService } from '../auth/createAuthService.ts';
import {
  createFactorPresenceCache,
  type MfaEnrollmentRule,
} from '../auth/createFactorPresenceCache.ts';
import { createPasswordHasher } from '../auth/createPasswordHasher.ts';
import { createPasswordPolicy } from '../auth/passwordPolicy.ts';
import {
  type AuthorizationService,
  createAuthorizationService,
} from '../authz/createAuthorizationService.ts';
import type { Config } from '../config.ts';
import { createExtAuthz, type ExtAuthz } from '../extAuthz/createExtAuthz.ts';
import type { Logger } from '../log.ts';
import { createAccountMail } from '../mail/createAccountMail.ts';
import { createMailTransport } from '../mail/createMailTransport.ts';
import { createOutboxSender } from '../mail/createOutboxSender.ts';
import type { Metrics } from '../metrics/createMetrics.ts';
import {
  createOrganizationAdminService,
  type OrganizationAdminService,
} from '../orgs/createOrganizationAdminService.ts';
import { createPageTokens } from '../paging/createPageTokens.ts';
import {
  createRateLimitBudgets,
  type RateLimitBudgets,
} from '../ratelimit/createRateLimitBudgets.ts';
import {
  createRevocationService,
  type RevocationService,
} from '../revocations/createRevocationService.ts';
import { createAppSecretLoader } from '../storage/appSecrets.ts';
import { createAddressPolicy } from '../webhooks/createAddressPolicy.ts';
import {
  createWebhookAdminService,
  type WebhookAdminService,
} from '../webhooks/createWebhookAdminService.ts';
import { createWebhookDispatcher } from '../webhooks/createWebhookDispatcher.ts';
import type { Closers } from './createClosers.ts';
import { resolveMfaSecretBox } from './resolveMfaSecretBox.ts';
import type { Stores } from './startStores.ts';

/** The use cases and what the request path needs besides them. */
export interface Services {
  auth: AuthService;
  admin: AdminService;
  serviceAccounts: ServiceAccountAdminService;
  organizations: OrganizationAdminService;
  apiKeys: ApiKeyService;
  authorization: AuthorizationService;
  webhooks: WebhookAdminService;
  /** Envoy ext_authz Check. */
  extAuthz: ExtAuthz;
  limits: RateLimitBudgets;
  /** MFA_REQUIRED_ROLES and the factor-presence cache, for the request path. */
  mfaEnrollment: MfaEnrollmentRule;
  /** REAUTHENTICATION_WINDOW_SEC, for the request path. */
  reauthenticationWindowSec: number;
  /** AuthService.WatchRevocations over this instance's revocation feed. */
  revocations: RevocationService;
}

/**
 * Builds the rate limits, the mail outbox sender, the password hasher (precomputing its dummy
 * hash), the password policy and account mail once, and gives every use case what it needs.
 * Page tokens are signed with PAGE_TOKEN_SECRET, or else with a random secret kept in
 * app_secrets (created by the first instance that needs it), so every instance of one database
 * accepts every other's tokens; successor refresh tokens are derived under another such secret.
 */
export async function createServices(
  config: Config,
  log: Logger,
  stores: Stores,
  metrics: Metrics,
  closers: Closers,
): Promise<Services> {
  const { pool } = stores;
  const limits = createRateLimitBudgets(
    stores.redis,
    config.redis.keyPrefix,
    config.rateLimits,
    log,
    {
      onRejected: (limit) => metrics.rateLimited.inc({ limit }),
    },
  );
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
  closers.push(() => outbox.stop());

  const hasher = await createPasswordHasher(
    config.passwords.argon2,
    metrics.authEvents.passwordHash,
  );
  const policy = createPasswordPolicy(config.passwords.minLength, config.passwords.maxLength);
  const pageKey = config.pageTokenSecret;
  const storedPageKey = createAppSecretLoader(pool, 'page_token');
  const deps: AuthDeps = {
    pool,
    keys: stores.keys,
    sessionCache: stores.sessionCache,
    apiKeys: stores.apiKeys,
    permissions: stores.permissions,
    apiKeyTokenTtlSec: config.apiKeys.accessTokenTtlSec,
    apiKeyLimits: config.apiKeys.limits,
    credentialBudget: {
      spend: (clientIp) => limits.admitSource('credential', clientIp),
      refund: (clientIp) => limits.refundSource('credential', clientIp),
    },
    hasher,
    policy,
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
      pageKey === undefined ? storedPageKey() : Buffer.from(pageKey, 'utf8'),
    ),
    refreshSuccessorKey: createAppSecretLoader(pool, 'refresh_successor'),
    mfa: {
      secretBox: await resolveMfaSecretBox(config, pool, log),
      totpIssuer: config.mfa.totpIssuer,
      reauthenticationWindowSec: config.mfa.reauthenticationWindowSec,
      requiredRoles: config.mfa.requiredRoles,
      factors: createFactorPresenceCache(pool),
    },
    webauthn: {
      ...config.webauthn,
      decoyKey: createAppSecretLoader(pool, 'passkey_decoy'),
    },
  };
  // Webhooks: every instance sends due deliveries (docs/webhooks.md); stopped before the pool ends.
  const addresses = createAddressPolicy(config.webhooks.addresses);
  const webhookDispatcher = createWebhookDispatcher({
    pool,
    secretBox: deps.mfa.secretBox,
    addresses,
    settings: config.webhooks,
    log,
    metrics: metrics.webhooks,
  });
  webhookDispatcher.start();
  closers.push(() => webhookDispatcher.stop());
  if (config.database.url === undefined) {
    // Embedded dev mode: the first start creates an admin and prints its password once.
    await ensureEmbeddedAdmin(deps, log, (text) => process.stdout.write(text));
  }
  const revocations = await createRevocationService({
    databaseUrl: stores.directDatabaseUrl,
    pool,
    connectTimeoutMs: config.database.connectTimeoutMs,
    log,
    heartbeatSec: config.revocations.heartbeatSec,
    accessTokenTtlSec: config.tokens.accessTtlSec,
    retentionSec: config.revocations.retentionSec,
    maxLag: config.revocations.maxLag,
    events: metrics.revocations,
  });
  closers.push(() => revocations.stop());
  return {
    auth: createAuthService(deps),
    admin: createAdminService(deps),
    serviceAccounts: createServiceAccountAdminService(deps),
    organizations: createOrganizationAdminService(deps),
    apiKeys: createApiKeyService(deps),
    authorization: createAuthorizationService(deps),
    webhooks: createWebhookAdminService({
      pool,
      pageTokens: deps.pageTokens,
      secretBox: deps.mfa.secretBox,
      addresses,
      secretOverlapSec: config.webhooks.secretOverlapSec,
    }),
    extAuthz: createExtAuthz(deps, config.extAuthz),
    limits,
    mfaEnrollment: { requiredRoles: deps.mfa.requiredRoles, factors: deps.mfa.factors },
    reauthenticationWindowSec: deps.mfa.reauthenticationWindowSec,
    revocations,
  };
}
