-- Signed webhooks (issue 16): endpoints, the events written in the transaction of the change
-- they describe, and one delivery per (event, endpoint). How they are sent, retried and
-- replayed: docs/webhooks.md. Forward-only: never edit a migration that has been applied.

-- Where events go. The signing secret (whsec_...) is sealed with AES-256-GCM under
-- MFA_ENCRYPTION_KEY (src/auth/createSecretBox.ts, bound to the endpoint id); `secret_key_id` is
-- the fingerprint of the key that sealed it. After a rotation the replaced secret keeps signing
-- until previous_secret_expires_at.
CREATE TABLE webhook_endpoints (
  id uuid PRIMARY KEY,
  url text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
  event_types text[] NOT NULL CHECK (cardinality(event_types) >= 1),
  enabled boolean NOT NULL,
  description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 1000),
  secret_ciphertext bytea NOT NULL CHECK (octet_length(secret_ciphertext) > 28),
  secret_key_id text NOT NULL,
  previous_secret_ciphertext bytea,
  previous_secret_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((previous_secret_ciphertext IS NULL) = (previous_secret_expires_at IS NULL))
);

CREATE INDEX webhook_endpoints_created_idx ON webhook_endpoints (created_at, id);
-- Every audited change looks up the enabled endpoints subscribed to its event type.
CREATE INDEX webhook_endpoints_event_types_idx ON webhook_endpoints USING gin (event_types)
  WHERE enabled;

-- An event, written in the transaction of the change (only when some endpoint wants it). Its id
-- is the webhook-id header (`evt_` + the UUID without dashes), the same on every attempt.
-- `payload` is what is POSTed: {type, timestamp, data} with ids, never secrets.
CREATE TABLE webhook_events (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type text NOT NULL,
  payload jsonb NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now()
);

-- One event on its way to one endpoint. pending: not attempted yet (or replayed); failed: the
-- last attempt failed and another is due at next_attempt_at; succeeded; dead: given up after
-- WEBHOOK_MAX_ATTEMPTS or the retry period. A sender holds a lease (locked_until,
-- locked_by) while it posts; another takes the row over once the lease expires.
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  event_id uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'succeeded', 'failed', 'dead')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- When it was queued (or last replayed): retries stop WEBHOOK_RETRY_PERIOD_HOURS after it.
  queued_at timestamptz NOT NULL DEFAULT now(),
  locked_until timestamptz,
  locked_by text,
  last_status_code integer,
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_attempt_at timestamptz,
  delivered_at timestamptz,
  UNIQUE (event_id, endpoint_id)
);

-- The sender's claim: due rows not yet succeeded or dead, oldest due first.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id)
  WHERE status IN ('pending', 'failed');
-- ListWebhookDeliveries: one endpoint's deliveries, newest first.
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);
