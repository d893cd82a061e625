-- Signing keys per algorithm: EdDSA (Ed25519, access tokens) and RS256
-- (RSA, OpenID Connect ID tokens), one active key of each. `alg` is stored
-- as `SigningAlg`'s integer, as `oauth_clients.id_token_alg` is (1 = EdDSA,
-- 2 = RS256); the keys made before this are Ed25519.
ALTER TABLE signing_keys ADD COLUMN alg INTEGER NOT NULL DEFAULT 1 CHECK (alg IN (1, 2));

-- When a key starts signing. A rotated key is published in the JWKS at once
-- but signs only from its creation plus `tokens.signing_key_lead`, so that
-- relying parties that cache the JWKS know it before they meet it; until
-- then the key before it signs. Earlier keys signed from their creation.
ALTER TABLE signing_keys ADD COLUMN active_from INTEGER NOT NULL DEFAULT 0;
UPDATE signing_keys SET active_from = created_at;

-- At most one active (newest) key per algorithm.
CREATE UNIQUE INDEX signing_keys_active_alg ON signing_keys (alg) WHERE active = 1;
