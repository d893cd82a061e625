-- What the admin console needs of accounts: the last successful sign-in,
-- the temporary-password flag, and prefix search by email (usernames are
-- unique, so already indexed).
ALTER TABLE accounts ADD COLUMN last_login_at INTEGER;
ALTER TABLE accounts ADD COLUMN password_change_required INTEGER NOT NULL DEFAULT 0
    CHECK (password_change_required IN (0, 1));
CREATE INDEX accounts_email_lower ON accounts (lower(email));
