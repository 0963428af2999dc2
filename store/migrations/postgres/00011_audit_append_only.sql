-- +goose Up
-- The audit tables are append-only: UPDATE, DELETE and TRUNCATE are refused by triggers, whoever
-- asks (the application role has no such privilege anyway, see `behalf migrate --app-role`). The one
-- exception is sealing an event recorded before the hash chain existed: setting its seq, prev_hash and
-- hash once, its content unchanged (audit.Seal). Only an owner or superuser who disables the triggers
-- can rewrite the trail, and `behalf audit verify` detects what they did.
-- +goose StatementBegin
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_events' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
       AND (NEW.id, NEW.at, NEW.action, NEW.actor_id, NEW.actor_login, NEW.subject_id, NEW.subject_login,
            NEW.on_behalf, NEW.session_id, NEW.reason, NEW.outcome, NEW.error_code, NEW.operation,
            NEW.arguments, NEW.ip, NEW.user_agent, NEW.request_id)
           IS NOT DISTINCT FROM
           (OLD.id, date_trunc('microseconds', OLD.at), OLD.action, OLD.actor_id, OLD.actor_login, OLD.subject_id,
            OLD.subject_login, OLD.on_behalf, OLD.session_id, OLD.reason, OLD.outcome, OLD.error_code,
            OLD.operation, OLD.arguments, OLD.ip, OLD.user_agent, OLD.request_id) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = '42501';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

-- +goose Down
DROP TRIGGER audit_checkpoints_no_truncate ON audit_checkpoints;
DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints;
DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP TRIGGER audit_events_append_only ON audit_events;
DROP FUNCTION audit_append_only();
