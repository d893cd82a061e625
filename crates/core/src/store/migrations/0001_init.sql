-- The initial schema. Timestamps are Unix seconds. Columns holding sealed
-- secrets (AES-256-GCM, see crypto::seal) end in `_sealed`.

CREATE TABLE server_config (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY NOT NULL,
    username          TEXT NOT NULL UNIQUE,
    account_type      INTEGER NOT NULL CHECK (account_type IN (1, 2)),
    status            INTEGER NOT NULL CHECK (status IN (1, 2, 3, 4)),
    password_hash     TEXT,
    totp_secret_sealed BLOB,
    totp_enabled      INTEGER NOT NULL DEFAULT 0 CHECK (totp_enabled IN (0, 1)),
    totp_last_step    INTEGER NOT NULL DEFAULT 0,
    failed_logins     INTEGER NOT NULL DEFAULT 0,
    locked_until      INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE account_roles (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    PRIMARY KEY (account_id, role)
) STRICT;

CREATE INDEX account_roles_role ON account_roles (role);

-- Every issued access token, so that revocation by account is possible.
CREATE TABLE tokens (
    jti           TEXT PRIMARY KEY NOT NULL,
    account_id    TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    kind          INTEGER NOT NULL CHECK (kind IN (1, 2)),
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER,
    revoke_reason TEXT
) STRICT;

CREATE INDEX tokens_account ON tokens (account_id);
CREATE INDEX tokens_expires ON tokens (expires_at);

CREATE TABLE signing_keys (
    kid                 TEXT PRIMARY KEY NOT NULL,
    public_key          BLOB NOT NULL,
    private_key_sealed  BLOB NOT NULL,
    created_at          INTEGER NOT NULL,
    active              INTEGER NOT NULL CHECK (active IN (0, 1)),
    retired_at          INTEGER
) STRICT;

CREATE TABLE pg_credentials (
    account_id      TEXT PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    host            TEXT NOT NULL,
    port            INTEGER NOT NULL,
    database        TEXT NOT NULL,
    username        TEXT NOT NULL,
    password_sealed BLOB NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at INTEGER NOT NULL,
    event_type  TEXT NOT NULL,
    actor_id    TEXT,
    target_id   TEXT,
    peer        TEXT,
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    details     TEXT NOT NULL DEFAULT '{}'
) STRICT;

CREATE INDEX audit_log_time ON audit_log (occurred_at);
CREATE INDEX audit_log_actor ON audit_log (actor_id);
CREATE INDEX audit_log_target ON audit_log (target_id);
