-- +goose Up
-- PostgreSQL gains audit_append (one round trip per audit event); SQLite appends in process, where a
-- statement costs no round trip: nothing to do. The version keeps both dialects' numbering aligned.
SELECT 1;

-- +goose Down
SELECT 1;
