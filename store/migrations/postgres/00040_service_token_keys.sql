-- +goose Up
-- Signing keys of the service tokens (RFC 8693 token exchange), shared by every replica. A key signs
-- until signs_until and stays published in /.well-known/jwks.json until published_until, when the
-- last token it signed has expired. private_key is sealed with BEHALF_SERVICE_KEY_SECRET when set
-- ("gcm:" prefix), else stored as the raw seed ("plain:" prefix); it never leaves the server.
CREATE TABLE service_token_keys (
    id              text PRIMARY KEY,
    algorithm       text NOT NULL,
    public_key      text NOT NULL,
    private_key     text NOT NULL,
    created_at      timestamptz NOT NULL,
    signs_until     timestamptz NOT NULL,
    published_until timestamptz NOT NULL
);
CREATE INDEX service_token_keys_published_idx ON service_token_keys (published_until);

-- +goose Down
DROP TABLE service_token_keys;
