/**
 * Cost as the data grows (issue 17): the same hot operations measured on a small data set and
 * on one ten times larger, in one run, on one server. Tier 1 seeds --scale-users' first count
 * of users (default 100,000; 5 sessions and refresh tokens and 10 audit rows each), measures;
 * tier 2 grows the same tables to the second count (default 1,000,000: 5M sessions and refresh
 * tokens, 10M audit rows) and measures again. Each figure is CPU per operation of Gatehouse
 * plus the PostgreSQL backends of the benchmark database (what an index that stops working
 * would raise; wall time on a shared machine would mostly measure the neighbours), at a fixed
 * moderate concurrency; p50 latency is reported beside it. Target: tier 2 within 1.3x of tier 1.
 */
import type { Tokens } from '../../src/gen/gatehouse/auth/v1/auth_service.ts';
import { EMPTY_RPC_PATH } from '../baselines/emptyServer.ts';
import { type Measurement, measure } from '../lib/measure.ts';
import { readProcessCpuMs } from '../lib/procfs.ts';
import type { WorkloadSpec } from '../lib/protocol.ts';
import {
  ADMIN_EMAIL,
  BENCH_PASSWORD,
  SCALE_AUDIT_PER_USER,
  SCALE_SESSIONS_PER_USER,
  type ScaleSeedTimings,
  scaleEmail,
  scaleRefreshToken,
} from '../lib/seed.ts';
import { invalidReason, type Scenario, type ScenarioContext, type Target } from './Scenario.ts';

const MAX_RATIO = 1.3;
const target: Target = { compare: 'cost growth', atMost: MAX_RATIO };
/** Closed-loop workers of every scale measurement: moderate, so queues do not dominate. */
const CONCURRENCY = 8;
const LIST_PAGE_SIZE = 100;
const AUDIT_PAGE_SIZE = 50;
/** Below the 10 rows every scale user has, even after cleanup removed its 1% of old ones. */
const AUDIT_USER_PAGE_SIZE = 5;

/** One metric at one tier. */
interface Figure {
  /** Gatehouse + PostgreSQL CPU ms per operation (cleanup: PostgreSQL CPU per row removed). */
  cpuMsPerOp: number;
  gatehouseCpuMsPerOp: number | null;
  postgresCpuMsPerOp: number | null;
  /** Cleanup: wall ms per row removed. */
  p50Ms: number;
  opsPerSec: number;
  note?: string;
}

interface Tier {
  users: number;
  seedSeconds: number;
  seedSteps: ScaleSeedTimings;
  rows: Record<string, number>;
  figures: Record<string, Figure>;
  measurements: Measurement[];
}

/**
 * Work that does not depend on the data: the empty RPC of the bare grpc-js server, measured at
 * the start and the end of each tier. Its ratio is how much dearer a CPU millisecond of the same
 * work got meanwhile on this shared machine (neighbours, frequency); reported, not a target.
 */
const CONTROL = 'control: empty RPC, bare grpc-js server';

const METRICS = [
  'Login',
  'Refresh',
  'ValidateToken, session cache miss',
  'ListUsers page 1',
  'ListUsers deep page (90% in)',
  'ListAuditEvents page 1',
  'ListAuditEvents by user',
  'cleanup run (per row removed)',
] as const;
type MetricName = (typeof METRICS)[number];

const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** `count` distinct whole numbers in 1..max, none in `used` (which gets them added). */
function pick(count: number, max: number, used: Set<number>): number[] {
  const out: number[] = [];
  while (out.length < count && used.size < max) {
    const n = 1 + Math.floor(Math.random() * max);
    if (used.has(n)) continue;
    used.add(n);
    out.push(n);
  }
  return out;
}

function figureOf(m: Measurement, series = 'all'): Figure {
  const invalid = invalidReason(m);
  if (invalid) throw new Error(invalid);
  const server = m.cpuMsPerOp.server;
  const postgres = m.cpuMsPerOp.postgres;
  const l = m.result.latency[series];
  return {
    cpuMsPerOp: round((server ?? 0) + (postgres ?? 0)),
    gatehouseCpuMsPerOp: server === null ? null : round(server),
    postgresCpuMsPerOp: postgres === null ? null : round(postgres),
    p50Ms: round(l?.p50 ?? 0),
    opsPerSec: Math.round(m.result.throughput),
  };
}

/** Row counts of the grown tables (planner estimates after VACUUM ANALYZE: exact enough). */
async function tableRows(ctx: ScenarioContext): Promise<Record<string, number>> {
  const { rows } = await ctx.db.pool.query<{ relname: string; n: string }>(
    `SELECT relname, reltuples::bigint AS n FROM pg_class
     WHERE relname IN ('users', 'sessions', 'refresh_tokens', 'audit_events') AND relkind = 'r'`,
  );
  return Object.fromEntries(rows.map((r) => [r.relname, Number(r.n)]));
}

/** One gatehouse_run_cleanup() as the owner, timed: wall ms and backend CPU per row removed. */
async function cleanupRun(ctx: ScenarioContext): Promise<Figure> {
  // Its defaults (30 s budget, 100 batches) would stop early on 1% of 10M audit rows.
  await ctx.db.pool.query(
    `UPDATE cleanup_settings SET time_budget = interval '1 hour', max_batches = 100000`,
  );
  const client = await ctx.db.pool.connect();
  try {
    const pid = Number((await client.query('SELECT pg_backend_pid() AS pid')).rows[0]?.pid);
    const cpuBefore = readProcessCpuMs(pid) ?? 0;
    const { rows } = await client.query<{
      duration_ms: number;
      deleted: Record<string, number>;
      complete: boolean;
      error: string | null;
    }>(`SELECT duration_ms, deleted, complete, error FROM gatehouse_run_cleanup('manual')`);
    const cpu = (readProcessCpuMs(pid) ?? 0) - cpuBefore;
    const run = rows[0];
    if (!run) throw new Error('gatehouse_run_cleanup() skipped (another run holds its lock)');
    if (run.error) throw new Error(`cleanup run failed: ${run.error}`);
    const removed = Object.values(run.deleted).reduce((a, b) => a + Number(b), 0);
    if (removed === 0) throw new Error('cleanup removed nothing: the seeded dead rows are gone');
    return {
      cpuMsPerOp: round(cpu / removed, 5),
      gatehouseCpuMsPerOp: null,
      postgresCpuMsPerOp: round(cpu / removed, 5),
      p50Ms: round(run.duration_ms / removed, 5),
      opsPerSec: Math.round((removed / Math.max(1, run.duration_ms)) * 1000),
      note: `${run.duration_ms} ms, removed ${Object.entries(run.deleted)
        .filter(([, n]) => Number(n) > 0)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ')}${run.complete ? '' : ' (incomplete)'}`,
    };
  } finally {
    client.release();
  }
}

async function measureTier(
  ctx: ScenarioContext,
  users: number,
  used: { sessions: Set<string>; logins: Set<number>; chains: Set<number> },
): Promise<{ figures: Record<MetricName | typeof CONTROL, Figure>; measurements: Measurement[] }> {
  const mctx = { ...ctx, concurrency: Math.min(CONCURRENCY, ctx.concurrency) };
  const target = ctx.gatehouse.target;
  const label = `${int(users)} users`;
  const measurements: Measurement[] = [];
  const run = async (name: MetricName, spec: WorkloadSpec): Promise<Figure> => {
    ctx.log(`scale: ${name} at ${label}`);
    const m = await measure(mctx, `${name} (${label})`, spec, ctx.gatehouse);
    measurements.push(m);
    return figureOf(m);
  };
  // A fresh admin token per tier: seeding the large tier takes longer than one lives.
  const [admin] = await ctx.seed.login([ADMIN_EMAIL]);
  const adminToken = (admin as Tokens).accessToken;

  const control = async () => {
    ctx.log(`scale: ${CONTROL} at ${label}`);
    const m = await measure(
      mctx,
      `${CONTROL} (${label})`,
      { kind: 'grpc-empty', target: ctx.emptyServer.target, path: EMPTY_RPC_PATH },
      ctx.emptyServer,
    );
    measurements.push(m);
    return figureOf(m);
  };
  const controlBefore = await control();

  const figures = {} as Record<MetricName | typeof CONTROL, Figure>;
  figures.Login = await run('Login', {
    kind: 'login',
    target,
    identifiers: pick(ctx.options.smoke ? 64 : 1000, users, used.logins).map(scaleEmail),
    password: BENCH_PASSWORD,
  });
  // Slots 1-4 of every user are live (slot 5 of every 20th is the cleanup's); each chain once.
  figures.Refresh = await run('Refresh', {
    kind: 'refresh',
    target,
    refreshTokens: pick(mctx.concurrency, users, used.chains).map((u) =>
      scaleRefreshToken(u, 1 + (u % 4)),
    ),
  });

  // One token per session, every session seeded in SQL and never presented before: each call
  // misses both session cache layers and reads PostgreSQL.
  const tokenCount = ctx.options.smoke ? 2000 : 40_000;
  const sessions = await ctx.seed.scaleSessions(tokenCount, used.sessions);
  for (const s of sessions) used.sessions.add(s.sessionId);
  ctx.log(`scale: signing ${tokenCount} access tokens`);
  const tokens = await ctx.seed.signAccessTokens(tokenCount, sessions);
  figures['ValidateToken, session cache miss'] = await run('ValidateToken, session cache miss', {
    kind: 'validate-token',
    target,
    tokens,
  });
  const reused = measurements.at(-1)?.result.stats.callsReusingAToken ?? 0;
  if (reused > 0) {
    figures['ValidateToken, session cache miss'].note =
      `${reused} calls re-used a token (cache hits): raise the token count`;
  }

  figures['ListUsers page 1'] = await run('ListUsers page 1', {
    kind: 'list-users',
    target,
    adminToken,
    pageSize: LIST_PAGE_SIZE,
    pages: [{ label: 'page 1', pageToken: '' }],
  });
  const deepPage = Math.max(2, Math.floor((users * 0.9) / LIST_PAGE_SIZE));
  ctx.log(`scale: walking ListUsers to page ${deepPage}`);
  const deepToken = await ctx.seed.listUsersPageToken(deepPage, LIST_PAGE_SIZE, adminToken);
  if (deepToken === null) throw new Error('ListUsers is UNIMPLEMENTED on this server');
  figures['ListUsers deep page (90% in)'] = await run('ListUsers deep page (90% in)', {
    kind: 'list-users',
    target,
    adminToken,
    pageSize: LIST_PAGE_SIZE,
    pages: [{ label: `page ${deepPage}`, pageToken: deepToken }],
  });
  figures['ListUsers deep page (90% in)'].note = `page ${deepPage}`;

  figures['ListAuditEvents page 1'] = await run('ListAuditEvents page 1', {
    kind: 'list-audit-events',
    target,
    adminToken,
    pageSize: AUDIT_PAGE_SIZE,
    requests: [{ label: 'all', userId: '' }],
  });
  const auditUsers = await ctx.seed.scaleUserIds(200, users);
  figures['ListAuditEvents by user'] = await run('ListAuditEvents by user', {
    kind: 'list-audit-events',
    target,
    adminToken,
    pageSize: AUDIT_USER_PAGE_SIZE,
    requests: auditUsers.map((userId) => ({ label: 'by user', userId })),
  });

  ctx.log(`scale: cleanup run at ${label}`);
  figures['cleanup run (per row removed)'] = await cleanupRun(ctx);
  const controlAfter = await control();
  const mean = (a: number, b: number) => round((a + b) / 2);
  figures[CONTROL] = {
    cpuMsPerOp: mean(controlBefore.cpuMsPerOp, controlAfter.cpuMsPerOp),
    gatehouseCpuMsPerOp: null,
    postgresCpuMsPerOp: null,
    p50Ms: mean(controlBefore.p50Ms, controlAfter.p50Ms),
    opsPerSec: Math.round((controlBefore.opsPerSec + controlAfter.opsPerSec) / 2),
    note: `start ${controlBefore.cpuMsPerOp.toFixed(3)}, end ${controlAfter.cpuMsPerOp.toFixed(3)}`,
  };
  return { figures, measurements };
}

function report(
  tiers: [Tier, Tier],
  concurrency: number,
): { text: string; worst: [MetricName, number] } {
  const [a, b] = tiers;
  let worst: [MetricName, number] = [METRICS[0], 0];
  const controlRatio =
    (b.figures[CONTROL]?.cpuMsPerOp ?? 1) / (a.figures[CONTROL]?.cpuMsPerOp ?? 1);
  const names: (MetricName | typeof CONTROL)[] = [CONTROL, ...METRICS];
  const rows = names.map((name) => {
    const fa = a.figures[name] as Figure;
    const fb = b.figures[name] as Figure;
    const ratio = fb.cpuMsPerOp / fa.cpuMsPerOp;
    const isControl = name === CONTROL;
    if (name !== CONTROL && ratio > worst[1]) worst = [name, ratio];
    return [
      name,
      fa.cpuMsPerOp.toFixed(3),
      fa.p50Ms.toFixed(3),
      fb.cpuMsPerOp.toFixed(3),
      fb.p50Ms.toFixed(3),
      `${ratio.toFixed(2)}x`,
      isControl ? '-' : `${(ratio / controlRatio).toFixed(2)}x`,
      `${(fb.p50Ms / fa.p50Ms).toFixed(2)}x`,
      isControl ? '(control)' : ratio <= MAX_RATIO ? 'PASS' : 'MISS',
      [fa.note, fb.note].filter(Boolean).join(' / '),
    ];
  });
  const header = [
    'metric',
    `CPU ${int(a.users)}`,
    'p50',
    `CPU ${int(b.users)}`,
    'p50',
    'CPU ratio',
    '/ control',
    'p50 ratio',
    'result',
    'notes',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 || i >= 8 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const seeded = (t: Tier) =>
    `${int(t.users)} users: ${int(t.rows.sessions ?? 0)} sessions, ${int(t.rows.refresh_tokens ?? 0)} refresh tokens, ${int(t.rows.audit_events ?? 0)} audit rows; seeded in ${t.seedSeconds.toFixed(1)} s (${Object.entries(
      t.seedSteps,
    )
      .filter(([, s]) => s >= 0.5)
      .map(([k, s]) => `${k} ${s.toFixed(1)}`)
      .join(', ')})`;
  const text = [
    `Scale: cost per operation as the data grows ${int(a.users)} -> ${int(b.users)} users (target <= ${MAX_RATIO}x)`,
    `CPU = Gatehouse + PostgreSQL backends, ms per operation (cleanup: PostgreSQL ms per row removed; p50 = wall ms per row); concurrency ${concurrency}`,
    `"/ control": the CPU ratio divided by the control's (the same fixed work at both tiers, ${controlRatio.toFixed(2)}x here): the part of the growth the machine's drift explains is taken out; the verdict is on the raw ratio`,
    `tier 1: ${seeded(a)}`,
    `tier 2: ${seeded(b)}`,
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ].join('\n');
  return { text, worst };
}

export const scale: Scenario = {
  name: 'scale',
  title: 'Scale: worst cost ratio',
  baselineTitle: 'same metric at the small tier',
  target,
  async run(ctx) {
    const [small, large] = ctx.options.scaleTiers;
    await ctx.seed.adminToken();
    const used = {
      sessions: new Set<string>(),
      logins: new Set<number>(),
      chains: new Set<number>(),
    };
    const tiers: Tier[] = [];
    let seeded = 0;
    for (const users of [small, large]) {
      ctx.log(
        `scale: seeding users ${seeded + 1}..${users} (${SCALE_SESSIONS_PER_USER} sessions and refresh tokens, ${SCALE_AUDIT_PER_USER} audit rows each)`,
      );
      const t0 = performance.now();
      const seedSteps = await ctx.seed.seedScaleTier(seeded + 1, users);
      const seedSeconds = (performance.now() - t0) / 1000;
      ctx.log(`scale: seeded in ${seedSeconds.toFixed(1)} s ${JSON.stringify(seedSteps)}`);
      seeded = users;
      const rows = await tableRows(ctx);
      const { figures, measurements } = await measureTier(ctx, users, used);
      tiers.push({ users, seedSeconds, seedSteps, rows, figures, measurements });
    }
    const [a, b] = tiers as [Tier, Tier];
    const { text, worst } = report([a, b], Math.min(CONCURRENCY, ctx.concurrency));
    const data = tiers.map(({ measurements: _m, ...t }) => t);
    return {
      name: 'scale',
      title: `Scale ${int(small)} -> ${int(large)} users: worst CPU ratio (${worst[0]})`,
      baselineTitle: 'same metric at the small tier',
      target,
      verdict: worst[1] <= MAX_RATIO ? 'PASS' : 'MISS',
      headline: null,
      baselineHeadline: null,
      ratio: worst[1],
      measured: null,
      baseline: null,
      details: { text, data: { tiers: data, measurements: tiers.flatMap((t) => t.measurements) } },
    };
  },
};
