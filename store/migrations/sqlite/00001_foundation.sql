-- +goose Up
CREATE TABLE organizations (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    search_text text NOT NULL DEFAULT '',
    created_at  datetime NOT NULL,
    updated_at  datetime NOT NULL
);

CREATE TABLE contacts (
    id              text PRIMARY KEY,
    first_name      text NOT NULL DEFAULT '',
    last_name       text NOT NULL DEFAULT '',
    email           text NOT NULL DEFAULT '',
    phone           text NOT NULL DEFAULT '',
    organization_id text REFERENCES organizations(id),
    search_text     text NOT NULL DEFAULT '',
    created_at      datetime NOT NULL,
    updated_at      datetime NOT NULL
);
CREATE INDEX contacts_organization_idx ON contacts (organization_id, id);

CREATE TABLE users (
    id                    text PRIMARY KEY,
    login                 text NOT NULL,
    email                 text NOT NULL,
    password_hash         text NOT NULL,
    roles                 text NOT NULL DEFAULT '',
    contact_id            text REFERENCES contacts(id),
    locked                integer NOT NULL DEFAULT 0,
    allow_login_on_behalf integer,
    failed_logins         integer NOT NULL DEFAULT 0,
    last_failed_at        datetime,
    throttled_until       datetime,
    search_text           text NOT NULL DEFAULT '',
    created_at            datetime NOT NULL,
    updated_at            datetime NOT NULL
);
CREATE UNIQUE INDEX users_login_idx ON users (lower(login));
CREATE UNIQUE INDEX users_email_idx ON users (lower(email));
CREATE INDEX users_contact_idx ON users (contact_id);

CREATE TABLE sessions (
    id                text PRIMARY KEY,
    token_hash        blob NOT NULL,
    user_id           text NOT NULL REFERENCES users(id),
    operator_id       text REFERENCES users(id),
    parent_session_id text REFERENCES sessions(id),
    on_behalf         integer NOT NULL DEFAULT 0,
    reason            text NOT NULL DEFAULT '',
    created_at        datetime NOT NULL,
    expires_at        datetime NOT NULL,
    idle_seconds      integer NOT NULL,
    last_seen_at      datetime NOT NULL,
    revoked_at        datetime,
    revoked_reason    text NOT NULL DEFAULT '',
    ip                text NOT NULL DEFAULT '',
    user_agent        text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX sessions_token_idx ON sessions (token_hash);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_operator_idx ON sessions (operator_id);
CREATE INDEX sessions_parent_idx ON sessions (parent_session_id);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    user_id      text NOT NULL REFERENCES users(id),
    name         text NOT NULL,
    prefix       text NOT NULL,
    secret_hash  blob NOT NULL,
    created_at   datetime NOT NULL,
    expires_at   datetime,
    last_used_at datetime,
    revoked_at   datetime
);
CREATE UNIQUE INDEX api_keys_secret_idx ON api_keys (secret_hash);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

CREATE TABLE audit_events (
    id            text PRIMARY KEY,
    at            datetime NOT NULL,
    action        text NOT NULL,
    actor_id      text,
    actor_login   text NOT NULL DEFAULT '',
    subject_id    text,
    subject_login text NOT NULL DEFAULT '',
    on_behalf     integer NOT NULL DEFAULT 0,
    session_id    text,
    reason        text NOT NULL DEFAULT '',
    outcome       text NOT NULL,
    error_code    text NOT NULL DEFAULT '',
    operation     text NOT NULL DEFAULT '',
    arguments     text NOT NULL DEFAULT '',
    ip            text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT '',
    request_id    text NOT NULL DEFAULT ''
);
CREATE INDEX audit_actor_idx ON audit_events (actor_id, id);
CREATE INDEX audit_subject_idx ON audit_events (subject_id, id);
CREATE INDEX audit_action_idx ON audit_events (action, id);
CREATE INDEX audit_onbehalf_idx ON audit_events (on_behalf, id);
CREATE INDEX audit_at_idx ON audit_events (at);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE contacts;
DROP TABLE organizations;
