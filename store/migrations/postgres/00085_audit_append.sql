-- +goose Up
-- audit_append appends one event to the hash chain in one round trip: it takes the chain's advisory
-- lock (the same key, passed by audit.Service, that audit.Seal and older servers take), reads the head
-- in a fresh snapshot (in READ COMMITTED every statement of a volatile function takes one after the
-- lock is held, so it sees the event the previous holder committed), computes the event's hash and
-- inserts it. The hash is SHA-256 over the canonical encoding v1 (docs/audit.md): the caller passes
-- the encoding of every field after prevHash (p_tail); the function prefixes "behalf.audit.v1", seq
-- and prevHash. The caller recomputes the hash and refuses a difference, so the encoding has one
-- definition (audit.Canonical). It runs with the caller's rights (INSERT and SELECT on audit_events).
-- +goose StatementBegin
CREATE FUNCTION audit_append(
    p_lock_key bigint, p_id text, p_at timestamptz, p_action text, p_actor_id text, p_actor_login text,
    p_subject_id text, p_subject_login text, p_on_behalf boolean, p_session_id text, p_reason text,
    p_outcome text, p_error_code text, p_operation text, p_arguments text, p_ip text, p_user_agent text,
    p_request_id text, p_client_request_id text, p_tail bytea)
RETURNS TABLE (new_seq bigint, new_prev_hash text, new_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_seq  bigint;
    head_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_key);
    SELECT e.seq, e.hash INTO head_seq, head_hash
    FROM audit_events e WHERE e.seq IS NOT NULL ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    new_seq := head_seq + 1;
    new_prev_hash := head_hash;
    new_hash := encode(sha256(convert_to('behalf.audit.v1', 'UTF8')
        || convert_to('i', 'UTF8') || int8send(new_seq)
        || convert_to('s', 'UTF8') || int4send(octet_length(head_hash)) || convert_to(head_hash, 'UTF8')
        || p_tail), 'hex');
    INSERT INTO audit_events (id, at, action, actor_id, actor_login, subject_id, subject_login, on_behalf,
        session_id, reason, outcome, error_code, operation, arguments, ip, user_agent, request_id,
        client_request_id, seq, prev_hash, hash)
    VALUES (p_id, p_at, p_action, p_actor_id, p_actor_login, p_subject_id, p_subject_login, p_on_behalf,
        p_session_id, p_reason, p_outcome, p_error_code, p_operation, p_arguments, p_ip, p_user_agent,
        p_request_id, p_client_request_id, new_seq, new_prev_hash, new_hash);
    RETURN NEXT;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION audit_append(bigint, text, timestamptz, text, text, text, text, text, boolean, text, text, text,
    text, text, text, text, text, text, text, bytea);
