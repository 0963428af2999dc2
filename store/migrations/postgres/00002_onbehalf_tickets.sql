-- +goose Up
-- One-time login-on-behalf tickets. Only the ticket's SHA-256 is kept; used_at is set exactly once (by
-- the confirm that wins, or by a failed attempt, which burns the ticket).
CREATE TABLE onbehalf_tickets (
    id                  text PRIMARY KEY,
    ticket_hash         bytea NOT NULL,
    operator_id         text NOT NULL REFERENCES users(id),
    operator_session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    target_id           text NOT NULL REFERENCES users(id),
    reason              text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    used_at             timestamptz,
    session_id          text REFERENCES sessions(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX onbehalf_tickets_hash_idx ON onbehalf_tickets (ticket_hash);
CREATE INDEX onbehalf_tickets_expires_idx ON onbehalf_tickets (expires_at);

-- +goose Down
DROP TABLE onbehalf_tickets;
