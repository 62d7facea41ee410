import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AuthEvents } from '../auth/AuthEvents.ts';
import { type CleanupMetrics, createCleanupMetrics } from '../cleanup/cleanupMetrics.ts';
import { createMailMetrics, type MailMetrics } from '../mail/mailMetrics.ts';
import { createRevocationMetrics } from '../revocations/revocationMetrics.ts';
import type { RevocationStreamEvents } from '../revocations/watchRevocations.ts';

/** Live state read at scrape time (gauges), bound once the app has built it. */
export interface LiveState {
  rateLimitMode(): string;
  pool(): { acquired: number; idle: number; waiting: number };
  dependencies(): Record<string, boolean>;
}

export interface Metrics {
  registry: Registry;
  rpcTotal: Counter<'method' | 'code'>;
  rpcDuration: Histogram<'method'>;
  rateLimited: Counter<'limit'>;
  /** The auth use cases' events, recorded as counters and histograms. */
  authEvents: AuthEvents;
  /** gatehouse_cleanup_*: runs, rows removed, the latest run (src/cleanup/cleanupMetrics.ts). */
  cleanup: CleanupMetrics;
  /** gatehouse_mail_* and gatehouse_outbox_pending (src/mail/mailMetrics.ts). */
  mail: MailMetrics;
  /** gatehouse_revocation_subscribers and gatehouse_revocation_events_sent_total. */
  revocations: RevocationStreamEvents;
  bindLiveState(state: LiveState): void;
}

/** The Prometheus registry served at /metrics; every label is low-cardinality. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  // prom-client's process_* and nodejs_* metrics under their standard names (no prefix): the
  // names Node.js dashboards and alerts expect; the job/instance labels say whose they are.
  collectDefaultMetrics({ register: registry });
  let live: LiveState | undefined;

  new Gauge({
    name: 'gatehouse_rate_limit_mode',
    help: 'Where rate limits are enforced (1 = current): redis, in-process (no Redis configured) or degraded (Redis down)',
    labelNames: ['mode'],
    registers,
    collect() {
      this.reset();
      if (live) this.set({ mode: live.rateLimitMode() }, 1);
    },
  });
  new Gauge({
    name: 'gatehouse_db_pool_connections',
    help: 'PostgreSQL pool connections by state (acquired, idle) and clients waiting for one',
    labelNames: ['state'],
    registers,
    collect() {
      if (!live) return;
      const p = live.pool();
      this.set({ state: 'acquired' }, p.acquired);
      this.set({ state: 'idle' }, p.idle);
      this.set({ state: 'waiting' }, p.waiting);
    },
  });
  new Gauge({
    name: 'gatehouse_dependency_up',
    help: 'Whether a dependency answered its last health probe (1) or not (0)',
    labelNames: ['dependency'],
    registers,
    collect() {
      if (!live) return;
      for (const [dependency, up] of Object.entries(live.dependencies())) {
        this.set({ dependency }, up ? 1 : 0);
      }
    },
  });

  const logins = new Counter({
    name: 'gatehouse_logins_total',
    help: 'Login attempts by outcome',
    labelNames: ['outcome'],
    registers,
  });
  const lockouts = new Counter({
    name: 'gatehouse_lockouts_total',
    help: 'Accounts locked after repeated failures',
    registers,
  });
  const reuse = new Counter({
    name: 'gatehouse_refresh_reuse_detected_total',
    help: 'Rotated refresh tokens presented again (session revoked)',
    registers,
  });
  const sessionsCreated = new Counter({
    name: 'gatehouse_sessions_created_total',
    help: 'Sessions opened (register, login, password change)',
    registers,
  });
  const sessionsRevoked = new Counter({
    name: 'gatehouse_sessions_revoked_total',
    help: 'Sessions revoked, by reason',
    labelNames: ['reason'],
    registers,
  });
  const passwordHash = new Histogram({
    name: 'gatehouse_password_hash_seconds',
    help: 'Time of password hashing and verification (argon2 on the libuv threadpool)',
    labelNames: ['op'],
    buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1],
    registers,
  });

  return {
    registry,
    cleanup: createCleanupMetrics(registry),
    mail: createMailMetrics(registry),
    revocations: createRevocationMetrics(registry),
    bindLiveState(state) {
      live = state;
    },
    rateLimited: new Counter({
      name: 'gatehouse_rate_limited_total',
      help: 'Calls refused with RESOURCE_EXHAUSTED, by the limit that refused them',
      labelNames: ['limit'],
      registers,
    }),
    rpcTotal: new Counter({
      name: 'gatehouse_rpc_total',
      help: 'Finished RPCs by method and gRPC status code',
      labelNames: ['method', 'code'],
      registers,
    }),
    rpcDuration: new Histogram({
      name: 'gatehouse_rpc_duration_seconds',
      help: 'RPC handling time by method',
      labelNames: ['method'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    authEvents: {
      login: (outcome) => logins.inc({ outcome }),
      lockout: () => lockouts.inc(),
      refreshReuse: () => reuse.inc(),
      sessionsCreated: (count) => sessionsCreated.inc(count),
      sessionsRevoked: (count, reason) => sessionsRevoked.inc({ reason }, count),
      passwordHash: (op, seconds) => passwordHash.observe({ op }, seconds),
    },
  };
}
