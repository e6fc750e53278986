-- Users, custom roles and refresh tokens (the UserRepo port).
-- Emails are stored folded to lower case by the domain (User model), so the unique index compares them as stored;
-- PostgreSQL's lower() would fold only what the database's LC_CTYPE knows, and that differs between installs.
CREATE TABLE users (
    id text PRIMARY KEY,
    email text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    roles text[] NOT NULL DEFAULT '{}',
    disabled boolean NOT NULL DEFAULT false,
    token_version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    password_changed_at timestamptz,
    -- bumped by every write: the guarded save updates only the row version it read (optimistic concurrency)
    row_version bigint NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX users_email_key ON users (email);
-- the last-admin check counts active holders of a role
CREATE INDEX users_roles ON users USING gin (roles);

CREATE TABLE roles (
    name text PRIMARY KEY,
    description text NOT NULL DEFAULT '',
    permissions text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE refresh_tokens (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    family_expires_at timestamptz NOT NULL,
    used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
