-- Issue 13, token custody.
--
-- A pending account reserves nothing: one owner cannot hold the same mailbox twice on a server,
-- but only one account per server and mailbox may hold a grant (a refresh token), and that is
-- decided when the owner of the mailbox consents, not when somebody types its address.
-- SQLite cannot drop a table constraint, so the table is rebuilt; authorisations in flight
-- (oauth_states) go with the old table and have to be started again.
CREATE TABLE mail_accounts_new (
    id                INTEGER PRIMARY KEY,
    mail_server_id    INTEGER NOT NULL REFERENCES mail_servers(id) ON DELETE CASCADE,
    owner_id          INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    login             TEXT NOT NULL,
    login_key         TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'linked', 'needs_reauth', 'error', 'disabled')),
    access_token_enc  BLOB,
    refresh_token_enc BLOB,
    password_enc      BLOB,
    access_expires_at INTEGER,
    granted_scopes    TEXT,
    last_refresh_at   INTEGER,
    last_error        TEXT,
    last_login_at     INTEGER,
    refresh_failures  INTEGER NOT NULL DEFAULT 0,
    next_retry_at     INTEGER,
    test_at           INTEGER,
    test_imap_ok      INTEGER,
    test_smtp_ok      INTEGER,
    test_message      TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    UNIQUE (mail_server_id, owner_id, login_key)
);
INSERT INTO mail_accounts_new SELECT id, mail_server_id, owner_id, name, login, login_key, status,
    access_token_enc, refresh_token_enc, password_enc, access_expires_at, granted_scopes,
    last_refresh_at, last_error, last_login_at, refresh_failures, next_retry_at, test_at,
    test_imap_ok, test_smtp_ok, test_message, created_at, updated_at FROM mail_accounts;
DELETE FROM oauth_states;
DROP TABLE mail_accounts;
ALTER TABLE mail_accounts_new RENAME TO mail_accounts;
CREATE INDEX mail_accounts_owner ON mail_accounts(owner_id);
CREATE INDEX mail_accounts_refresh ON mail_accounts(status, access_expires_at);
CREATE INDEX mail_accounts_name ON mail_accounts(name COLLATE NOCASE, id);
CREATE UNIQUE INDEX mail_accounts_one_grant ON mail_accounts(mail_server_id, login_key)
    WHERE refresh_token_enc IS NOT NULL;

-- Optional per-server list of the domains its mailboxes may belong to (space-separated).
ALTER TABLE mail_servers ADD COLUMN allowed_domains TEXT NOT NULL DEFAULT '';
-- The OpenID Connect nonce sent with the authorisation request, sealed like the verifier.
ALTER TABLE oauth_states ADD COLUMN nonce_enc BLOB;
