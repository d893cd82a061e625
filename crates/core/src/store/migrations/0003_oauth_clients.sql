-- Applications (OAuth clients). The secret is never stored: only its
-- HMAC-SHA256 (hex) under a refresh secret, named by the secret's prefix.
-- Deleting is soft (`deleted_at`), so a client id is never reused.
CREATE TABLE oauth_clients (
    client_id                 TEXT PRIMARY KEY NOT NULL,
    name                      TEXT NOT NULL,
    client_type               INTEGER NOT NULL CHECK (client_type IN (1, 2)),
    -- JSON arrays of strings.
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    grant_types               TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    audience                  TEXT NOT NULL,
    access_token_ttl          INTEGER NOT NULL,
    refresh_token_ttl         INTEGER NOT NULL,
    first_party               INTEGER NOT NULL CHECK (first_party IN (0, 1)),
    id_token_alg              INTEGER NOT NULL CHECK (id_token_alg IN (1, 2)),
    secret_hash               TEXT,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    deleted_at                INTEGER
) STRICT;
