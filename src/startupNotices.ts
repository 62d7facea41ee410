import { RATE_LIMIT_DEFAULTS } from './config/rateLimitConfig.ts';
import type { Config } from './config.ts';

/** What an operator should hear about at start: settings that are legal but likely wrong. */
export interface StartupNotices {
  warnings: string[];
  notes: string[];
}

/** Notices about the configuration, logged at start (pure, so it can be tested alone). */
export function startupNotices(config: Config): StartupNotices {
  const warnings: string[] = [];
  const notes: string[] = [];
  const l = config.rateLimits;
  if (config.env === 'production' && config.trustedProxies.length === 0) {
    warnings.push(
      'TRUSTED_PROXIES is empty: every caller is limited by its own address, so behind a ' +
        "backend, gateway or load balancer all end users share that hop's budget " +
        `(${l.ipCredential.points} credential calls per ${l.ipCredential.windowSec} s). List the ` +
        'addresses of the hops that forward `x-forwarded-for` in TRUSTED_PROXIES.',
    );
  }
  if (config.env === 'development') {
    const p = RATE_LIMIT_DEFAULTS.production;
    notes.push(
      `development rate limits: ${l.ipRead.points} calls and ${l.ipCredential.points} credential ` +
        `calls per source, ${l.account.points} attempts per account and ${l.accountIp.points} per ` +
        `(account, source) (production defaults: ${p.ipRead}, ${p.ipCredential}, ${p.account}, ` +
        `${p.accountIp}; set NODE_ENV=production or RATE_LIMIT_* to try those)`,
    );
  }
  return { warnings, notes };
}
