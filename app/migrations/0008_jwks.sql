-- Issue 13: a generic provider's JSON Web Key Set, from its OpenID discovery document, to check
-- the signature of its ID tokens. NULL for a provider without OpenID (userinfo only).
ALTER TABLE mail_servers ADD COLUMN jwks_url TEXT;
