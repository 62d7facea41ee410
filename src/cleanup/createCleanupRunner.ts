import type { Logger } from '../log.ts';
import {
  applyCleanupSettings,
  type CleanupCronJob,
  type CleanupRunRow,
  findCleanupCronJob,
  findLatestCleanupRun,
  runCleanup,
} from '../storage/cleanupRuns.ts';
import type { DatabasePool } from '../storage/createDatabase.ts';
import { pruneRevocationEvents } from '../storage/revocationEvents.ts';
import { pruneWebhooks } from '../webhooks/pruneWebhooks.ts';
import type { CleanupConfig } from './cleanupConfig.ts';
import type { CleanupMetrics } from './cleanupMetrics.ts';

export type TickResult =
  /** pg_cron owns the job: nothing run here; `latest` is the latest recorded run. */
  | { mode: 'pg_cron'; job: CleanupCronJob; latest: CleanupRunRow | null }
  /** Run here: `run` is this instance's recorded run, null when skipped (lock or min gap). */
  | {
      mode: 'in_process';
      outcome: 'success' | 'failed' | 'skipped';
      run: CleanupRunRow | null;
      latest: CleanupRunRow | null;
    }
  /** The database could not be asked (down, timeout): nothing was recorded. */
  | { mode: 'error'; error: unknown };

export interface CleanupRunnerOptions {
  pool: DatabasePool;
  log: Logger;
  metrics: CleanupMetrics;
  config: Pick<CleanupConfig, 'intervalSec' | 'settings'>;
  /**
   * How long revocation events are kept (s): pruned on every tick, whether pg_cron or this
   * process runs gatehouse_run_cleanup (which does not know them); unset: not pruned here.
   */
  revocationRetentionSec?: number;
  /** Delay of the first tick after start() (then ticks align to multiples of the interval). */
  initialDelayMs?: number;
  onTick?: (result: TickResult) => void;
  /** WEBHOOK_RETENTION_DAYS: prune finished webhook deliveries each tick (both modes); unset: not. */
  webhookRetentionDays?: number;
}

export interface CleanupRunner {
  /** Schedules the first tick after initialDelayMs, then one per interval (epoch-aligned). */
  start(): void;
  /** One tick now (coalesced with a tick already running). */
  tick(): Promise<TickResult>;
  /** No further ticks; waits for a running one (bounded by the function's time budget). */
  stop(): Promise<void>;
}

const REVOCATION_PRUNE_BATCH = 5000;
const REVOCATION_PRUNE_BATCHES = 20;

const total = (deleted: Record<string, number>) =>
  Object.values(deleted).reduce((sum, n) => sum + n, 0);

/**
 * The in-process path of the cleanup job. Each tick: if pg_cron has the job 'gatehouse-cleanup'
 * for this database, stand down (and only report pg_cron's runs); otherwise run
 * gatehouse_run_cleanup('in_process') with a minimum gap of half an interval. Its advisory lock
 * lets one instance run at a time and the gap makes instances that fire together (ticks align to
 * multiples of the interval, like the cron schedule) run it once per interval.
 */
export function createCleanupRunner(options: CleanupRunnerOptions): CleanupRunner {
  const { pool, metrics, config } = options;
  const log = options.log.child({ component: 'cleanup' });
  const intervalMs = config.intervalSec * 1000;
  let mode: 'pg_cron' | 'in_process' | undefined;
  let lastSeenRunId: number | undefined;
  let settingsApplied = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<TickResult> | undefined;

  const summary = (run: CleanupRunRow) => ({
    runId: run.id,
    trigger: run.trigger,
    durationMs: run.duration_ms,
    deleted: run.deleted,
    complete: run.complete,
    ...(run.error === null ? {} : { error: run.error }),
  });

  /** One log line per run: what it removed and how long it took, or why it failed. */
  function report(run: CleanupRunRow) {
    if (run.error !== null) {
      log.error(
        { cleanup: summary(run) },
        `cleanup run ${run.id} (${run.trigger}) failed: ${run.error}`,
      );
      return;
    }
    log.info(
      { cleanup: summary(run) },
      `cleanup run ${run.id} (${run.trigger}) removed ${total(run.deleted)} rows in ${run.duration_ms} ms`,
    );
    if (!run.complete) {
      log.warn(
        { cleanup: summary(run) },
        'cleanup stopped at its batch or time budget: more rows remain for the next run ' +
          '(raise cleanup_settings.max_batches / time_budget if this persists)',
      );
    }
  }

  function observe(latest: CleanupRunRow | null) {
    // From the first observation on, later runs (by pg_cron) are reported, even if none existed.
    lastSeenRunId = Math.max(lastSeenRunId ?? 0, latest?.id ?? 0);
    if (latest === null) return;
    metrics.lastRunTimestamp.set(latest.finished_at.getTime() / 1000);
    metrics.lastDuration.set(latest.duration_ms / 1000);
    metrics.lastRunSuccess.set(latest.error === null ? 1 : 0);
  }

  async function applySettingsOnce() {
    if (settingsApplied) return;
    settingsApplied = true;
    try {
      const { changed } = await applyCleanupSettings(pool, config.settings);
      if (changed)
        log.info({ settings: config.settings }, 'cleanup_settings updated from CLEANUP_*');
    } catch (err) {
      log.warn(
        { err, settings: config.settings },
        'could not write CLEANUP_* into cleanup_settings (the audit retention can only be changed ' +
          'by the database owner); the stored settings apply',
      );
    }
  }

  /** Prunes revocation events past their retention, a bounded number of batches per tick. */
  async function pruneRevocations(keepSec: number) {
    try {
      let removed = 0;
      for (let batch = 0; batch < REVOCATION_PRUNE_BATCHES; batch += 1) {
        const n = await pruneRevocationEvents(pool, keepSec, REVOCATION_PRUNE_BATCH);
        removed += n;
        if (n < REVOCATION_PRUNE_BATCH) break;
      }
      if (removed > 0) {
        metrics.deletedRows.inc({ table: 'revocation_events' }, removed);
        log.info({ removed }, `pruned ${removed} revocation events past their retention`);
      }
    } catch (error) {
      log.warn({ err: error }, 'could not prune revocation events; retrying next interval');
    }
  }

  async function tickOnce(): Promise<TickResult> {
    // Not part of gatehouse_cleanup (pg_cron runs only that): every instance prunes, SKIP LOCKED.
    if (options.webhookRetentionDays !== undefined) {
      await pruneWebhooks({ pool, log, metrics, retentionDays: options.webhookRetentionDays });
    }
    const result = await tickCleanup();
    if (options.revocationRetentionSec !== undefined) {
      await pruneRevocations(options.revocationRetentionSec);
    }
    return result;
  }

  async function tickCleanup(): Promise<TickResult> {
    try {
      await applySettingsOnce();
      const job = await findCleanupCronJob(pool);
      if (job !== null) {
        if (mode !== 'pg_cron') {
          log.info(
            { cronJob: job },
            'pg_cron owns the cleanup job: Gatehouse does not run it (see cron.job_run_details and cleanup_runs)',
          );
          if (!job.active) {
            log.warn(
              { cronJob: job },
              'the pg_cron job gatehouse-cleanup is inactive: no cleanup runs',
            );
          }
          mode = 'pg_cron';
        }
        const latest = await findLatestCleanupRun(pool);
        // Report runs made by pg_cron (or by hand) since the last tick.
        if (latest !== null && lastSeenRunId !== undefined && latest.id > lastSeenRunId) {
          report(latest);
        }
        observe(latest);
        return { mode: 'pg_cron', job, latest };
      }
      if (mode !== 'in_process') {
        log.info(
          { intervalSec: config.intervalSec },
          'no pg_cron job gatehouse-cleanup for this database: Gatehouse runs the cleanup in-process',
        );
        mode = 'in_process';
      }
      const run = await runCleanup(pool, 'in_process', config.intervalSec / 2);
      if (run === null) {
        metrics.runs.inc({ outcome: 'skipped' });
        log.debug(
          'cleanup skipped: another instance is running it or ran it within half an interval',
        );
        const latest = await findLatestCleanupRun(pool);
        observe(latest);
        return { mode: 'in_process', outcome: 'skipped', run: null, latest };
      }
      const outcome = run.error === null ? 'success' : 'failed';
      metrics.runs.inc({ outcome });
      for (const [table, n] of Object.entries(run.deleted)) {
        if (n > 0) metrics.deletedRows.inc({ table }, n);
      }
      report(run);
      observe(run);
      return { mode: 'in_process', outcome, run, latest: run };
    } catch (error) {
      metrics.runs.inc({ outcome: 'error' });
      log.warn({ err: error }, 'cleanup tick failed (nothing recorded); retrying next interval');
      return { mode: 'error', error };
    }
  }

  function tick(): Promise<TickResult> {
    inFlight ??= tickOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  function schedule(delayMs: number) {
    if (stopped) return;
    timer = setTimeout(async () => {
      const result = await tick();
      options.onTick?.(result);
      schedule(intervalMs - (Date.now() % intervalMs));
    }, delayMs);
    timer.unref();
  }

  return {
    start() {
      schedule(options.initialDelayMs ?? 0);
    },
    tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inFlight;
    },
  };
}

/**
 * Starts the cleanup runner for the app (first tick shortly after start, so startup is not
 * delayed) and returns its stop function; does nothing when CLEANUP_ENABLED=false.
 */
export function startCleanup(
  options: Omit<CleanupRunnerOptions, 'config'> & { config: CleanupConfig },
): () => Promise<void> {
  if (!options.config.enabled) {
    options.log.info('CLEANUP_ENABLED=false: this instance does not run the cleanup job');
    return async () => {};
  }
  const runner = createCleanupRunner({ initialDelayMs: 5000, ...options });
  runner.start();
  return () => runner.stop();
}
