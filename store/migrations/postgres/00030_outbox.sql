-- +goose Up
-- Integrations: webhook endpoints, the transactional outbox (events written in the mutation's
-- transaction) and one delivery row per event and target (a webhook endpoint or an e-mail), which the
-- dispatcher claims with FOR UPDATE SKIP LOCKED. Owned by the integrations package.
CREATE TABLE webhook_endpoints (
    id                   text PRIMARY KEY,
    url                  text NOT NULL,
    description          text NOT NULL DEFAULT '',
    events               text NOT NULL,
    active               boolean NOT NULL DEFAULT true,
    secret               text NOT NULL,
    previous_secret      text NOT NULL DEFAULT '',
    previous_valid_until timestamptz,
    created_by           text NOT NULL DEFAULT '',
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    deleted_at           timestamptz
);

CREATE TABLE outbox_events (
    id         text PRIMARY KEY,
    type       text NOT NULL,
    dedup_key  text,
    payload    text NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX outbox_events_dedup_idx ON outbox_events (dedup_key);

CREATE TABLE outbox_deliveries (
    id              text PRIMARY KEY,
    event_id        text NOT NULL REFERENCES outbox_events(id),
    channel         text NOT NULL,
    target          text NOT NULL,
    endpoint_id     text REFERENCES webhook_endpoints(id),
    recipient       text NOT NULL DEFAULT '',
    subject         text NOT NULL DEFAULT '',
    body            text NOT NULL DEFAULT '',
    status          text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    lease_until     timestamptz,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text NOT NULL DEFAULT '',
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
-- The dispatcher looks for the oldest open delivery per target.
CREATE INDEX outbox_deliveries_open_idx ON outbox_deliveries (target, id) WHERE status IN ('PENDING', 'FAILED');
CREATE INDEX outbox_deliveries_due_idx ON outbox_deliveries (next_attempt_at) WHERE status IN ('PENDING', 'FAILED');
CREATE INDEX outbox_deliveries_endpoint_idx ON outbox_deliveries (endpoint_id, id);
CREATE INDEX outbox_deliveries_event_idx ON outbox_deliveries (event_id);

-- A customer's notification choices (absent row: the defaults).
CREATE TABLE notification_settings (
    user_id        text PRIMARY KEY REFERENCES users(id),
    onbehalf_email boolean NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL
);

-- +goose Down
DROP TABLE notification_settings;
DROP TABLE outbox_deliveries;
DROP TABLE outbox_events;
DROP TABLE webhook_endpoints;
