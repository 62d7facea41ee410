import { z } from 'zod';
import { envBool } from '../envBool.ts';
import type { CleanupSettingsOverrides } from '../storage/cleanupRuns.ts';

/** An optional whole number: unset or blank = undefined (keep the value in cleanup_settings). */
const optionalInt = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z.coerce.number().int().min(min).max(max).optional(),
  );
const bool = envBool;

/**
 * The CLEANUP_* environment variables, spread into the one schema of src/config.ts (which stays
 * the only reader of process.env). Retention/batch values are optional: when set, Gatehouse
 * writes them into the cleanup_settings row at start, which both the pg_cron and the in-process
 * path read; when unset, the row keeps its value (defaults in migrations/0003_cleanup.sql).
 */
export const cleanupEnvShape = {
  CLEANUP_ENABLED: bool.default(true),
  // 900 s = the pg_cron schedule '*/15 * * * *'; runs are aligned to multiples of it (UTC).
  CLEANUP_INTERVAL_SEC: z.coerce.number().int().min(1).max(86_400).default(900),
  CLEANUP_BATCH_SIZE: optionalInt(1, 100_000),
  CLEANUP_SESSION_RETENTION_DAYS: optionalInt(0, 3650),
  CLEANUP_ONE_TIME_RETENTION_DAYS: optionalInt(0, 3650),
  CLEANUP_OUTBOX_RETENTION_DAYS: optionalInt(0, 3650),
  // At least 1 day; only applied when the database role may change it (the owner).
  CLEANUP_AUDIT_RETENTION_DAYS: optionalInt(1, 36_500),
};

type CleanupEnv = z.infer<z.ZodObject<typeof cleanupEnvShape>>;

export interface CleanupConfig {
  enabled: boolean;
  intervalSec: number;
  settings: CleanupSettingsOverrides;
}

export function toCleanupConfig(e: CleanupEnv): CleanupConfig {
  return {
    enabled: e.CLEANUP_ENABLED,
    intervalSec: e.CLEANUP_INTERVAL_SEC,
    settings: {
      batchSize: e.CLEANUP_BATCH_SIZE,
      sessionRetentionDays: e.CLEANUP_SESSION_RETENTION_DAYS,
      oneTimeRetentionDays: e.CLEANUP_ONE_TIME_RETENTION_DAYS,
      outboxRetentionDays: e.CLEANUP_OUTBOX_RETENTION_DAYS,
      auditRetentionDays: e.CLEANUP_AUDIT_RETENTION_DAYS,
    },
  };
}
