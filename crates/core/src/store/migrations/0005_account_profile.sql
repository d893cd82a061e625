-- The account profile (OpenID Connect standard claims). All optional;
-- `email_verified` is set only by admins and cleared when the email changes.
ALTER TABLE accounts ADD COLUMN email TEXT;
ALTER TABLE accounts ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1));
ALTER TABLE accounts ADD COLUMN display_name TEXT;
ALTER TABLE accounts ADD COLUMN given_name TEXT;
ALTER TABLE accounts ADD COLUMN family_name TEXT;
