-- The OpenID Connect provider: browser sessions, remembered consents,
-- authorization codes, and the grants that bind refresh-token families to
-- the application they were issued to.

-- Browser sessions. The cookie value is never stored: only its SHA-256
-- (`id_hash`). `sid` is the public session id put in ID tokens. A session
-- in stage 1 has passed the password and waits for the second factor;
-- stage 2 is signed in. A session lives only while its account keeps the
-- token version it had at sign-in (a password change, suspension or
-- sign-out-everywhere ends every session).
CREATE TABLE web_sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    sid        TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_version INTEGER NOT NULL,
    stage      INTEGER NOT NULL CHECK (stage IN (1, 2)),
    -- JSON array of authentication methods (RFC 8176), e.g. ["pwd","otp"].
    amr        TEXT NOT NULL,
    auth_time  INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    ended_at   INTEGER,
    peer       TEXT,
    user_agent TEXT
) STRICT;

CREATE INDEX web_sessions_account ON web_sessions (account_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- Consent an account gave an application ("remember this decision").
CREATE TABLE oauth_consents (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    -- JSON array of the scopes granted.
    scopes     TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
) STRICT;

-- Authorization codes: only a SHA-256 of the code is stored. `family_id`
-- names the grant the code was exchanged for, so that a reused code can
-- revoke what it issued.
CREATE TABLE auth_codes (
    code_hash      TEXT PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    sid            TEXT NOT NULL,
    auth_time      INTEGER NOT NULL,
    amr            TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    family_id      TEXT
) STRICT;

CREATE INDEX auth_codes_expires ON auth_codes (expires_at);

-- A refresh-token family issued to an application: whose it is, what it
-- may do, and the browser session it came from.
CREATE TABLE oauth_grants (
    family_id  TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    sid        TEXT,
    auth_time  INTEGER NOT NULL,
    amr        TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX oauth_grants_sid ON oauth_grants (sid);
CREATE INDEX oauth_grants_account ON oauth_grants (account_id);
