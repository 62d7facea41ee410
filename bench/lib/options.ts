import { parseArgs } from 'node:util';

export const SCENARIO_NAMES = [
  'validate-distinct',
  'validate-repeated',
  'validate-api-key',
  'exchange-api-key',
  'login',
  'register',
  'refresh',
  'list-users',
  'check-permission',
  'ext-authz-check',
  'verify',
  'scale',
  'two-instances',
  'tracing',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];
/** Every scenario in the order they run. */
export const ALL_SCENARIO_NAMES: readonly ScenarioName[] = SCENARIO_NAMES;

/**
 * Scenarios that run only when --scenarios names them: scale takes many minutes, two-instances
 * and tracing start extra servers.
 */
const OPT_IN_SCENARIOS: readonly ScenarioName[] = ['scale', 'two-instances', 'tracing'];

export interface Options {
  smoke: boolean;
  /** Measurement window of every measurement (scenario and baseline alike). */
  durationMs: number;
  warmupMs: number;
  concurrency: number;
  /** gRPC channels (HTTP/2 connections) of the load generator. */
  channels: number;
  scenarios: ScenarioName[];
  /** Users seeded for ListUsers (page `listPage` of `listPageSize` must exist). */
  listUsers: number;
  listPageSize: number;
  listPage: number;
  /** Distinct access tokens for "ValidateToken, distinct tokens"; undefined: sized from the baseline. */
  distinctTokens: number | undefined;
  /** Live sessions the distinct tokens belong to. */
  distinctSessions: number;
  /** Tokens of "ValidateToken, repeated tokens" (each validated over and over). */
  repeatedTokens: number;
  /** Accounts the Login scenario cycles through. */
  loginAccounts: number;
  /** Service accounts (one API key each) the API-key scenarios cycle through. */
  apiKeys: number;
  /** Members whose permission check-permission asks about, over and over. */
  authzSubjects: number;
  /** Where results.json goes. */
  out: string;
  /** Directory for a V8 CPU profile of the Gatehouse process (node --cpu-prof), if set. */
  cpuProfDir: string | undefined;
  /** Checkout whose `src/main.ts` is benchmarked (default: this one), for A/B comparisons. */
  serverRoot: string;
  keepDatabase: boolean;
  /** Users of the two tiers the scale scenario seeds and measures (the second must be larger). */
  scaleTiers: [number, number];
}

export const USAGE = `usage: scripts/run bench [options]

  --smoke               CI smoke run: 1 s per measurement, no warm-up, concurrency 4, small
                        seeds; checks the harness works, its numbers mean nothing
  --duration <s>        measurement window per scenario and per baseline (default 10)
  --warmup <s>          warm-up before each window, not measured (default 2)
  --concurrency <n>     closed-loop workers, same for scenarios and baselines (default 32;
                        smoke 4)
  --channels <n>        gRPC connections the workers are spread over (default 4)
  --scenarios <list>    comma-separated subset of: ${SCENARIO_NAMES.join(', ')}
                        (default: all but ${OPT_IN_SCENARIOS.join(', ')}, which must be named)
  --list-users <n>      users seeded for ListUsers (default 100000; smoke 2000)
  --list-page <n>       page compared with page 1 (default 1000; smoke 20), page size 100
  --tokens <n>          distinct access tokens for validate-distinct (default: the baseline's
                        ops/s x (warm-up + window) x 1.1); no token may be presented twice in a
                        run, or a per-token cache answers (the run says so if it happened)
  --sessions <n>        live sessions those tokens belong to (default 1000; smoke 50)
  --api-keys <n>        service accounts, one API key each, that validate-api-key and
                        exchange-api-key cycle through (default 64; smoke 8)
  --subjects <n>        organisation members check-permission asks about in turn (default
                        64; smoke 8)
  --scale-users <a,b>   users of the scale scenario's two tiers, each with 5 sessions and
                        refresh tokens and 10 audit rows (default 100000,1000000; smoke
                        1000,10000)
  --out <file>          results file (default bench/results.json)
  --cpu-prof <dir>      write a V8 CPU profile of the Gatehouse process into <dir>
  --server-root <dir>   benchmark the Gatehouse of another checkout (same protocol), e.g. a
                        branch with a fix, against the same baselines
  --keep-database       do not drop the benchmark database at the end (for inspection)
  -h, --help            this text

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) is where the
benchmark database is created; REDIS_URL (default redis://127.0.0.1:6379). Gatehouse settings
(ARGON2_*, DATABASE_POOL_MAX, UV_THREADPOOL_SIZE, ...) are passed to the server and used by the
baselines alike.`;

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

export function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: 'boolean', default: false },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      channels: { type: 'string' },
      scenarios: { type: 'string' },
      'list-users': { type: 'string' },
      'list-page': { type: 'string' },
      tokens: { type: 'string' },
      sessions: { type: 'string' },
      'api-keys': { type: 'string' },
      subjects: { type: 'string' },
      out: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'server-root': { type: 'string' },
      'keep-database': { type: 'boolean', default: false },
      'scale-users': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const smoke = values.smoke;
  const scenarios = (
    values.scenarios ?? SCENARIO_NAMES.filter((n) => !OPT_IN_SCENARIOS.includes(n)).join(',')
  )
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of scenarios) {
    if (!(ALL_SCENARIO_NAMES as readonly string[]).includes(s)) {
      throw new Error(`unknown scenario "${s}" (known: ${ALL_SCENARIO_NAMES.join(', ')})`);
    }
  }
  const warmupSec = values.warmup === undefined ? (smoke ? 0 : 2) : Number(values.warmup);
  if (!Number.isFinite(warmupSec) || warmupSec < 0) throw new Error('--warmup must be >= 0');
  const listPageSize = 100;
  const listPage = Math.floor(positiveInt('list-page', values['list-page'], smoke ? 20 : 1000));
  const listUsers = Math.floor(
    positiveInt('list-users', values['list-users'], smoke ? 2000 : 100_000),
  );
  if (listUsers < listPage * listPageSize) {
    throw new Error(
      `--list-users ${listUsers} is too few for page ${listPage} of ${listPageSize} users`,
    );
  }
  const scaleTiers = (values['scale-users'] ?? (smoke ? '1000,10000' : '100000,1000000'))
    .split(',')
    .map((t) => Math.floor(positiveInt('scale-users', t.trim(), 1)));
  if (scaleTiers.length !== 2 || (scaleTiers[0] as number) >= (scaleTiers[1] as number)) {
    throw new Error('--scale-users must be two counts, the second larger, e.g. 100000,1000000');
  }
  return {
    smoke,
    durationMs: Math.round(positiveInt('duration', values.duration, smoke ? 1 : 10) * 1000),
    warmupMs: Math.round(warmupSec * 1000),
    // Smoke: few workers, so argon2-bound calls (~0.1 s each) complete inside a 1 s window.
    concurrency: Math.floor(positiveInt('concurrency', values.concurrency, smoke ? 4 : 32)),
    channels: Math.floor(positiveInt('channels', values.channels, 4)),
    scenarios: scenarios as ScenarioName[],
    listUsers,
    listPageSize,
    listPage,
    distinctTokens:
      values.tokens === undefined ? undefined : Math.floor(positiveInt('tokens', values.tokens, 1)),
    distinctSessions: Math.floor(positiveInt('sessions', values.sessions, smoke ? 50 : 1000)),
    repeatedTokens: 8,
    loginAccounts: smoke ? 64 : 1000,
    apiKeys: Math.floor(positiveInt('api-keys', values['api-keys'], smoke ? 8 : 64)),
    authzSubjects: Math.floor(positiveInt('subjects', values.subjects, smoke ? 8 : 64)),
    out: values.out ?? new URL('../results.json', import.meta.url).pathname,
    cpuProfDir: values['cpu-prof'],
    serverRoot: values['server-root'] ?? new URL('../..', import.meta.url).pathname,
    keepDatabase: values['keep-database'],
    scaleTiers: scaleTiers as [number, number],
  };
}
