-- Webhook retention (issue 16): finished deliveries and the events they carried are removed
-- after WEBHOOK_RETENTION_DAYS, by the cleanup runner (docs/operations-cleanup.md,
-- docs/webhooks.md). Forward-only: never edit a migration that has been applied.

-- The prune's scans: finished deliveries by when they finished (updated_at is set by every
-- status change), and events by age.
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (updated_at)
  WHERE status IN ('succeeded', 'dead');
CREATE INDEX webhook_events_occurred_idx ON webhook_events (occurred_at);

-- Deletes at most p_limit deliveries that succeeded or went dead longer than p_keep ago, then
-- at most p_limit events older than p_keep that have no delivery left (those just freed, and
-- those of deleted endpoints). Pending and failed deliveries, and the events they carry, stay
-- whatever their age (a replayed delivery is pending again). SKIP LOCKED: it never waits for a
-- row a sender or ReplayWebhookDelivery holds. Returns how many rows of each it removed; a
-- count equal to p_limit means more may remain (call it again).
CREATE FUNCTION gatehouse_prune_webhook_deliveries(p_keep interval, p_limit integer)
RETURNS TABLE (deliveries bigint, events bigint)
LANGUAGE plpgsql
AS $fn$
DECLARE
  v_cutoff timestamptz;
BEGIN
  IF p_keep IS NULL OR p_keep < interval '0' OR p_limit IS NULL OR p_limit < 1 THEN
    RAISE EXCEPTION 'gatehouse_prune_webhook_deliveries: p_keep must be >= 0 and p_limit >= 1'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_cutoff := now() - p_keep;

  WITH doomed AS (
    SELECT id FROM webhook_deliveries
    WHERE status IN ('succeeded', 'dead') AND updated_at < v_cutoff
    ORDER BY updated_at
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  ), gone AS (
    DELETE FROM webhook_deliveries d USING doomed WHERE d.id = doomed.id RETURNING 1
  )
  SELECT count(*) INTO deliveries FROM gone;

  WITH doomed AS (
    SELECT e.id FROM webhook_events e
    WHERE e.occurred_at < v_cutoff
      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
    ORDER BY e.occurred_at
    LIMIT p_limit
    FOR UPDATE SKIP LOCKED
  ), gone AS (
    DELETE FROM webhook_events e USING doomed WHERE e.id = doomed.id RETURNING 1
  )
  SELECT count(*) INTO events FROM gone;

  RETURN NEXT;
END
$fn$;
