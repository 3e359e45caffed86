-- One row per authorisation in flight: single use (used_at), bound to the user who started it,
-- expiring after 10 minutes. Only a hash of the state is stored; the PKCE verifier is encrypted.
CREATE TABLE oauth_states (
    state_hash        TEXT PRIMARY KEY NOT NULL,
    account_id        INTEGER NOT NULL REFERENCES mail_accounts(id) ON DELETE CASCADE,
    user_id           INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    pkce_verifier_enc BLOB NOT NULL,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    used_at           INTEGER
);
CREATE INDEX oauth_states_expiry ON oauth_states(expires_at);
