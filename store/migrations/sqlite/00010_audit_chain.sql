-- +goose Up
-- The audit trail becomes a hash chain: every event carries its position (seq, 1, 2, … without
-- gaps), the hash of the event before it and its own hash (see docs/audit.md). Events recorded before
-- this migration get their seq and hashes from audit.Seal, run by `behalf migrate` and at start-up.
ALTER TABLE audit_events ADD COLUMN seq bigint;
ALTER TABLE audit_events ADD COLUMN prev_hash text NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN hash text NOT NULL DEFAULT '';
CREATE UNIQUE INDEX audit_seq_idx ON audit_events (seq);

-- Signed heads of the chain (audit checkpoints): Ed25519 over the canonical head, so a head saved
-- outside the database proves later that the chain still holds it.
CREATE TABLE audit_checkpoints (
    seq        integer PRIMARY KEY,
    hash       text NOT NULL,
    at         datetime NOT NULL,
    key_id     text NOT NULL,
    signature  text NOT NULL
);

-- +goose Down
DROP TABLE audit_checkpoints;
DROP INDEX audit_seq_idx;
ALTER TABLE audit_events DROP COLUMN hash;
ALTER TABLE audit_events DROP COLUMN prev_hash;
ALTER TABLE audit_events DROP COLUMN seq;
