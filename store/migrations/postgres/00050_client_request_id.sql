-- +goose Up
-- The X-Request-Id a client sent, sanitized, kept apart from request_id (always the server's own id,
-- so a client cannot plant or collide ids in the audit trail).
ALTER TABLE audit_events ADD COLUMN client_request_id text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE audit_events DROP COLUMN client_request_id;
