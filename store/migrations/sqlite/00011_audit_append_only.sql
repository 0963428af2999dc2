-- +goose Up
-- The audit tables are append-only, as on PostgreSQL: UPDATE and DELETE are refused, except sealing an
-- event recorded before the hash chain existed (setting its seq, prev_hash and hash once; audit.Seal).
-- Whoever can write the database file can drop these triggers; `behalf audit verify` detects the rest.
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
WHEN OLD.seq IS NOT NULL OR NEW.seq IS NULL OR NEW.id IS NOT OLD.id OR NEW.action IS NOT OLD.action
  OR NEW.actor_id IS NOT OLD.actor_id OR NEW.actor_login IS NOT OLD.actor_login
  OR NEW.subject_id IS NOT OLD.subject_id OR NEW.subject_login IS NOT OLD.subject_login
  OR NEW.on_behalf IS NOT OLD.on_behalf OR NEW.session_id IS NOT OLD.session_id OR NEW.reason IS NOT OLD.reason
  OR NEW.outcome IS NOT OLD.outcome OR NEW.error_code IS NOT OLD.error_code OR NEW.operation IS NOT OLD.operation
  OR NEW.arguments IS NOT OLD.arguments OR NEW.ip IS NOT OLD.ip OR NEW.user_agent IS NOT OLD.user_agent
  OR NEW.request_id IS NOT OLD.request_id
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE refused');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE refused');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER audit_checkpoints_no_delete;
DROP TRIGGER audit_checkpoints_no_update;
DROP TRIGGER audit_events_no_delete;
DROP TRIGGER audit_events_no_update;
