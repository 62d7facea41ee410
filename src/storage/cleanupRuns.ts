import { z } from 'zod';
import type { Db } from './Db.ts';
import { sql } from './sql.ts';

const cleanupRunRow = z.object({
  id: z.number(),
  trigger: z.enum(['pg_cron', 'in_process', 'manual']),
  started_at: z.date(),
  finished_at: z.date(),
  duration_ms: z.number(),
  /** Rows removed per table (empty for a failed run: it was rolled back). */
  deleted: z.record(z.string(), z.number()),
  /** false: stopped at max_batches or the time budget; more rows may remain. */
  complete: z.boolean(),
  error: z.string().nullable(),
});
export type CleanupRunRow = z.infer<typeof cleanupRunRow>;

const RUN_COLUMNS = sql.fragment`
  id, trigger, started_at, finished_at, duration_ms, deleted, complete, error`;

export type CleanupTrigger = CleanupRunRow['trigger'];

/**
 * Runs gatehouse_run_cleanup() (migrations/0003_cleanup.sql) in its own transaction and returns
 * the recorded run, or null when it was skipped: another run holds the lock, or a run started
 * less than `minGapSec` ago. The statement timeout is raised for this transaction only, above
 * the function's own time budget, so a large backlog ends the run at its budget, not by a cancel.
 */
export async function runCleanup(
  db: Db,
  trigger: CleanupTrigger,
  minGapSec: number | null,
): Promise<CleanupRunRow | null> {
  return db.transaction(async (tx) => {
    await tx.query(sql.typeAlias('void')`
      SELECT set_config('statement_timeout',
        (extract(epoch FROM
           COALESCE((SELECT time_budget FROM cleanup_settings LIMIT 1), interval '30 seconds') * 2
           + interval '60 seconds') * 1000)::bigint::text,
        true)`);
    const minGap =
      minGapSec === null
        ? sql.fragment`NULL::interval`
        : sql.fragment`make_interval(secs => ${minGapSec})`;
    return tx.maybeOne(sql.type(cleanupRunRow)`
      SELECT ${RUN_COLUMNS} FROM gatehouse_run_cleanup(${trigger}, ${minGap})`);
  });
}

/** The most recent recorded run by any path (pg_cron, in-process, manual), or null. */
export async function findLatestCleanupRun(db: Db): Promise<CleanupRunRow | null> {
  return db.maybeOne(sql.type(cleanupRunRow)`
    SELECT ${RUN_COLUMNS} FROM cleanup_runs ORDER BY id DESC LIMIT 1`);
}

const cronJobRow = z.object({
  jobid: z.number(),
  schedule: z.string(),
  command: z.string(),
  active: z.boolean(),
});
export type CleanupCronJob = z.infer<typeof cronJobRow>;

/** The pg_cron job 'gatehouse-cleanup' of this database, or null (no pg_cron, no job, no access). */
export async function findCleanupCronJob(db: Db): Promise<CleanupCronJob | null> {
  return db.maybeOne(sql.type(cronJobRow)`
    SELECT jobid, schedule, command, active FROM gatehouse_cleanup_cron_job()`);
}

/** Values written into cleanup_settings at start; undefined = leave the stored value. */
export interface CleanupSettingsOverrides {
  batchSize?: number | undefined;
  sessionRetentionDays?: number | undefined;
  oneTimeRetentionDays?: number | undefined;
  outboxRetentionDays?: number | undefined;
  auditRetentionDays?: number | undefined;
}

const changedRow = z.object({ changed: z.boolean() });

/**
 * Writes the configured values into cleanup_settings (read by both paths); unset values keep
 * the stored ones. Returns whether anything changed. The audit retention is a separate
 * statement: the application role may not change it (only the owner may), so it fails alone.
 */
export async function applyCleanupSettings(
  db: Db,
  o: CleanupSettingsOverrides,
): Promise<{ changed: boolean }> {
  const days = (v: number | undefined) =>
    sql.fragment`make_interval(days => ${v ?? null}::integer)`;
  let changed = false;
  if (
    o.batchSize !== undefined ||
    o.sessionRetentionDays !== undefined ||
    o.oneTimeRetentionDays !== undefined ||
    o.outboxRetentionDays !== undefined
  ) {
    const row = await db.maybeOne(sql.type(changedRow)`
      WITH wanted AS (
        SELECT COALESCE(${o.batchSize ?? null}::integer, s.batch_size) AS batch_size,
               COALESCE(${days(o.sessionRetentionDays)}, s.session_retention) AS session_retention,
               COALESCE(${days(o.oneTimeRetentionDays)}, s.one_time_retention) AS one_time_retention,
               COALESCE(${days(o.outboxRetentionDays)}, s.outbox_retention) AS outbox_retention
        FROM cleanup_settings s
      )
      UPDATE cleanup_settings s
      SET batch_size = w.batch_size, session_retention = w.session_retention,
          one_time_retention = w.one_time_retention, outbox_retention = w.outbox_retention,
          updated_at = now()
      FROM wanted w
      WHERE (s.batch_size, s.session_retention, s.one_time_retention, s.outbox_retention)
            IS DISTINCT FROM (w.batch_size, w.session_retention, w.one_time_retention, w.outbox_retention)
      RETURNING true AS changed`);
    changed ||= row !== null;
  }
  if (o.auditRetentionDays !== undefined) {
    // Read first: a role that may not change it only fails when the value really differs.
    const differs = await db.maybeOne(sql.type(changedRow)`
      SELECT true AS changed FROM cleanup_settings
      WHERE audit_retention IS DISTINCT FROM ${days(o.auditRetentionDays)}`);
    if (differs !== null) {
      await db.query(sql.typeAlias('void')`
        UPDATE cleanup_settings
        SET audit_retention = ${days(o.auditRetentionDays)}, updated_at = now()`);
      changed = true;
    }
  }
  return { changed };
}
