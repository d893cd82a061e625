-- Refresh tokens with rotation and reuse detection, per-account token
-- versions (`uv`), client secrets, and signing-key rotation.

-- Bumped to invalidate every token of an account at once.
ALTER TABLE accounts ADD COLUMN token_version INTEGER NOT NULL DEFAULT 1;
-- Argon2id PHC hash of a system account's client secret.
ALTER TABLE accounts ADD COLUMN client_secret_hash TEXT;

-- The refresh-token family an access token was issued from, if any.
ALTER TABLE tokens ADD COLUMN family_id TEXT;
CREATE INDEX tokens_family ON tokens (family_id);

-- Set when a key stops signing: it verifies until then, and is retired after.
ALTER TABLE signing_keys ADD COLUMN retire_after INTEGER;

-- HMAC-SHA256 secrets under which refresh tokens are stored.
CREATE TABLE refresh_keys (
    id            TEXT PRIMARY KEY NOT NULL,
    secret_sealed BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    active        INTEGER NOT NULL CHECK (active IN (0, 1))
) STRICT;

-- Refresh tokens, by the HMAC of their value. A used token records its
-- successor; within the grace window the successor (sealed) is handed out
-- again instead of counting as reuse.
CREATE TABLE refresh_tokens (
    hash             TEXT PRIMARY KEY NOT NULL,
    key_id           TEXT NOT NULL REFERENCES refresh_keys (id),
    family_id        TEXT NOT NULL,
    account_id       TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_version    INTEGER NOT NULL,
    issued_at        INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    used_at          INTEGER,
    successor_hash   TEXT,
    successor_sealed BLOB,
    revoked_at       INTEGER
) STRICT;

CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_account ON refresh_tokens (account_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
