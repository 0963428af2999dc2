-- +goose Up
-- A payment row is first committed as an intent (PENDING, gateway_answered_at NULL) before the gateway
-- is called outside any transaction; gateway_answered_at is set when the gateway's answer is recorded.
-- A row still NULL after a crash is resolved by a retry with the same idempotency key.
ALTER TABLE payments ADD COLUMN gateway_answered_at timestamptz;
UPDATE payments SET gateway_answered_at = updated_at;

-- +goose Down
ALTER TABLE payments DROP COLUMN gateway_answered_at;
