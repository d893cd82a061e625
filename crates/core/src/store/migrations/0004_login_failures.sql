-- Failed logins per (account, source): the backoff is keyed on the client's
-- address, so failures from one source do not lock the account for the
-- others. `accounts.failed_logins`/`locked_until` remain the account-wide
-- ceiling. Rows idle for a day and no longer locked are pruned.
CREATE TABLE login_failures (
    account_id   TEXT NOT NULL,
    source       TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL,
    last_failure INTEGER NOT NULL,
    PRIMARY KEY (account_id, source)
) WITHOUT ROWID;
CREATE INDEX login_failures_last ON login_failures (last_failure);
