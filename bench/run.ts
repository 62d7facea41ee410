/**
 * `scripts/run bench`: starts a Gatehouse (its own process) on a fresh PostgreSQL database and Redis
 * key prefix, a bare grpc-js server for the transport baseline, and a load generator (its own
 * process); seeds data; measures each scenario right after its baseline with the same
 * concurrency and window; prints a table and writes bench/results.json. Cleans everything up
 * (database dropped, Redis keys deleted, children stopped) however it ends.
 *
 * Exit status 0 when every measurement ran, missed targets included (it is a measurement, not a
 * test); 1 when a scenario could not be measured; 2 on bad options.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { credentials } from '@grpc/grpc-js';
import { loadConfig } from '../src/config.ts';
import { UserAdminServiceClient } from '../src/gen/gatehouse/admin/v1/user_admin_service.ts';
import { AuthServiceClient } from '../src/gen/gatehouse/auth/v1/auth_service.ts';
import {
  connectRedis,
  createBenchDatabase,
  deleteRedisKeys,
  postgresVersion,
  redisUrl,
  redisVersion,
} from './lib/database.ts';
import { ALL_SCENARIO_NAMES, type Options, parseOptions, USAGE } from './lib/options.ts';
import { startEmptyServer, startGatehouse, startLoadgen, stopChild } from './lib/processes.ts';
import { readMemory } from './lib/procfs.ts';
import { formatTables, machineInfo, targetText } from './lib/report.ts';
import { Seeder } from './lib/seed.ts';
import { SCENARIOS } from './scenarios/index.ts';
import type { ScenarioContext, ScenarioResult } from './scenarios/Scenario.ts';

const startedAt = Date.now();
const log = (message: string) =>
  process.stderr.write(`[bench ${((Date.now() - startedAt) / 1000).toFixed(1)}s] ${message}\n`);

/** Limits high enough that the benchmark never meets them (they are still checked per call). */
const UNLIMITED = '100000000';

/** Set by SIGINT/SIGTERM: the run stops at the next scenario boundary and reports nothing. */
let interrupted = false;

/**
 * What to undo at the end, newest first. Once cleaning has started (the run ended or a signal
 * came), anything added later, e.g. a server that finished starting meanwhile, is undone at once.
 */
class Cleanups {
  #items: { name: string; fn: () => unknown }[] = [];
  #chain: Promise<void> | undefined;

  push(item: { name: string; fn: () => unknown }): void {
    if (this.#chain) this.#chain = this.#chain.then(() => this.#run(item));
    else this.#items.push(item);
  }

  async #run({ name, fn }: { name: string; fn: () => unknown }): Promise<void> {
    try {
      await fn();
    } catch (error) {
      log(`cleanup "${name}" failed: ${(error as Error).message}`);
    }
  }

  /** Runs everything once; resolves when nothing is left, late additions included. */
  async run(): Promise<void> {
    this.#chain ??= (async () => {
      for (const item of this.#items.splice(0).reverse()) await this.#run(item);
    })();
    let seen: Promise<void> | undefined;
    while (seen !== this.#chain) {
      seen = this.#chain;
      await seen;
    }
  }
}

async function bench(options: Options, cleanups: Cleanups): Promise<number> {
  const runId = randomBytes(4).toString('hex');
  const redis = connectRedis();
  cleanups.push({ name: 'redis client', fn: () => redis.quit() });
  try {
    await redis.ping();
  } catch (error) {
    throw new Error(
      `cannot reach Redis at ${new URL(redisUrl).host} (set REDIS_URL): ${(error as Error).message}`,
    );
  }
  const db = await createBenchDatabase();
  log(`database ${db.name}`);
  cleanups.push({
    name: 'drop database',
    fn: async () => {
      if (options.keepDatabase) log(`kept database ${db.name}`);
      else await db.drop();
    },
  });
  const keyPrefix = `ghbench:${runId}:`;
  cleanups.push({
    name: 'redis keys',
    fn: async () => log(`deleted ${await deleteRedisKeys(redis, keyPrefix)} Redis keys`),
  });

  const threadpool = process.env.UV_THREADPOOL_SIZE ?? '4';
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const serverEnv: Record<string, string> = {
    ...inherited,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: db.url,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: keyPrefix,
    SHUTDOWN_GRACE_MS: '2000',
    UV_THREADPOOL_SIZE: threadpool,
    RATE_LIMIT_IP_READ_POINTS: UNLIMITED,
    RATE_LIMIT_IP_CREDENTIAL_POINTS: UNLIMITED,
    RATE_LIMIT_ACCOUNT_POINTS: UNLIMITED,
    RATE_LIMIT_ACCOUNT_IP_POINTS: UNLIMITED,
    RATE_LIMIT_API_KEY_POINTS: UNLIMITED,
    // The scale scenario times one cleanup run itself; a scheduled run must not take its work.
    ...(options.scenarios.includes('scale') ? { CLEANUP_ENABLED: 'false' } : {}),
    // No scenario sends mail; production config wants it said explicitly.
    ...(inherited.SMTP_URL === undefined && inherited.MAIL_TRANSPORT === undefined
      ? { MAIL_TRANSPORT: 'log' }
      : {}),
  };
  const config = loadConfig(serverEnv);
  if (options.cpuProfDir) mkdirSync(options.cpuProfDir, { recursive: true });

  log(`starting gatehouse (node src/main.ts in ${options.serverRoot})`);
  const gatehouse = await startGatehouse(serverEnv, {
    cpuProfDir: options.cpuProfDir,
    root: options.serverRoot,
  });
  cleanups.push({ name: 'gatehouse', fn: () => stopChild(gatehouse.child, 8000) });
  const emptyServer = await startEmptyServer();
  cleanups.push({ name: 'empty server', fn: () => stopChild(emptyServer.child, 2000) });
  const loadgen = await startLoadgen(threadpool);
  cleanups.push({ name: 'load generator', fn: () => loadgen.stop() });

  const auth = new AuthServiceClient(gatehouse.target, credentials.createInsecure());
  const admin = new UserAdminServiceClient(gatehouse.target, credentials.createInsecure());
  cleanups.push({
    name: 'seed clients',
    fn: () => {
      auth.close();
      admin.close();
    },
  });
  const seed = new Seeder(db, auth, admin, {
    argon2: config.passwords.argon2,
    sessionIdleSec: config.tokens.sessionIdleSec,
    sessionAbsoluteSec: config.tokens.sessionAbsoluteSec,
    tokens: config.tokens,
    apiKeyLimits: config.apiKeys.limits,
  });
  const machine = machineInfo(await postgresVersion(), await redisVersion(redis));

  const ctx: ScenarioContext = {
    options,
    config,
    runId,
    seed,
    log,
    loadgen,
    db,
    redis,
    concurrency: options.concurrency,
    channels: options.channels,
    warmupMs: options.warmupMs,
    durationMs: options.durationMs,
    gatehouse: { name: 'gatehouse', pid: gatehouse.pid, target: gatehouse.target },
    serverEnv,
    emptyServer: { name: 'empty grpc-js server', pid: emptyServer.pid, target: emptyServer.target },
  };

  const results: ScenarioResult[] = [];
  for (const name of ALL_SCENARIO_NAMES.filter((n) => options.scenarios.includes(n))) {
    const scenario = SCENARIOS[name];
    try {
      results.push(await scenario.run(ctx));
    } catch (error) {
      if (interrupted) throw new Error('interrupted');
      log(`${name} failed: ${(error as Error).stack ?? String(error)}`);
      results.push({
        name,
        title: scenario.title,
        baselineTitle: scenario.baselineTitle,
        target: scenario.target,
        verdict: 'ERROR',
        note: (error as Error).message,
        headline: null,
        baselineHeadline: null,
        ratio: null,
        measured: null,
        baseline: null,
      });
    }
    if (interrupted) throw new Error('interrupted');
    if (gatehouse.child.exitCode !== null || gatehouse.child.signalCode !== null) {
      throw new Error(
        `gatehouse died during ${name} (${gatehouse.child.exitCode ?? gatehouse.child.signalCode}):\n${gatehouse.output()}`,
      );
    }
  }

  const gatehouseMemory = readMemory(gatehouse.pid);
  const emptyMemory = readMemory(emptyServer.pid);
  const toMb = (kb: number | undefined) =>
    kb === undefined ? null : Math.round((kb / 1024) * 10) / 10;
  const window = `${options.durationMs / 1000} s window${options.warmupMs > 0 ? ` after ${options.warmupMs / 1000} s warm-up` : ', no warm-up'}`;
  const header = [
    `Gatehouse benchmark ${new Date(startedAt).toISOString()}${options.smoke ? ' (SMOKE: numbers are not meaningful)' : ''}`,
    `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}, load average at start ${machine.loadAverageAtStart.join(' ')}`,
    `concurrency ${options.concurrency} over ${options.channels} channels, ${window}, per measurement; argon2id m=${config.passwords.argon2.memoryCost} t=${config.passwords.argon2.timeCost} p=${config.passwords.argon2.parallelism}, UV_THREADPOOL_SIZE=${threadpool}, DATABASE_POOL_MAX=${config.database.poolMax}`,
  ];
  process.stdout.write(
    `\n${header.join('\n')}\n\n${formatTables(results)}\n\n` +
      `gatehouse RSS now ${toMb(gatehouseMemory?.rssKb)} MB, peak ${toMb(gatehouseMemory?.hwmKb)} MB (VmHWM); ` +
      `bare grpc-js server RSS now ${toMb(emptyMemory?.rssKb)} MB, peak ${toMb(emptyMemory?.hwmKb)} MB\n`,
  );

  const report = {
    generatedAt: new Date().toISOString(),
    runId,
    smoke: options.smoke,
    options: {
      durationSec: options.durationMs / 1000,
      warmupSec: options.warmupMs / 1000,
      concurrency: options.concurrency,
      channels: options.channels,
      scenarios: options.scenarios,
      listUsers: options.listUsers,
      listPage: options.listPage,
      listPageSize: options.listPageSize,
      distinctTokens: options.distinctTokens ?? 'auto',
      distinctSessions: options.distinctSessions,
      repeatedTokens: options.repeatedTokens,
      loginAccounts: options.loginAccounts,
      apiKeys: options.apiKeys,
      serverRoot: options.serverRoot,
      scaleTiers: options.scaleTiers,
    },
    machine,
    serverConfig: {
      argon2: config.passwords.argon2,
      uvThreadpoolSize: Number(threadpool),
      databasePoolMax: config.database.poolMax,
      jwtAlgorithm: config.tokens.algorithm,
      apiKeyCacheTtlMs: config.apiKeys.cacheTtlMs,
      apiKeyAccessTokenTtlSec: config.apiKeys.accessTokenTtlSec,
    },
    serverMemory: {
      gatehouse: { rssMb: toMb(gatehouseMemory?.rssKb), peakRssMb: toMb(gatehouseMemory?.hwmKb) },
      emptyGrpcServer: { rssMb: toMb(emptyMemory?.rssKb), peakRssMb: toMb(emptyMemory?.hwmKb) },
    },
    results: results.map((r) => ({
      scenario: r.name,
      title: r.title,
      baseline: r.baselineTitle,
      throughput: r.headline?.throughput ?? null,
      p50Ms: r.headline?.p50 ?? null,
      p95Ms: r.headline?.p95 ?? null,
      p99Ms: r.headline?.p99 ?? null,
      baselineThroughput: r.baselineHeadline?.throughput ?? null,
      baselineP50Ms: r.baselineHeadline?.p50 ?? null,
      baselineP95Ms: r.baselineHeadline?.p95 ?? null,
      baselineP99Ms: r.baselineHeadline?.p99 ?? null,
      ratio: r.ratio,
      ratioOf: r.target.compare,
      target: targetText(r.target),
      verdict: r.verdict,
      note: r.note ?? null,
      measurements: [r.baseline, r.measured].filter((m) => m !== null),
      ...(r.details ? { details: r.details.data } : {}),
    })),
    durationSec: Math.round((Date.now() - startedAt) / 100) / 10,
  };
  writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${options.out}`);
  return results.some((r) => r.verdict === 'ERROR') ? 1 : 0;
}

async function main(): Promise<void> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const cleanups = new Cleanups();
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping and cleaning up`);
    cleanups.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let code = 1;
  try {
    code = await bench(options, cleanups);
  } catch (error) {
    if (!interrupted) log(`failed: ${(error as Error).stack ?? String(error)}`);
  } finally {
    await cleanups.run();
  }
  log(`done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  process.exit(interrupted ? 130 : code);
}

await main();
