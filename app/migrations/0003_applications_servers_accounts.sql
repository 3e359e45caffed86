-- Integration applications own a callback address: {public URL}/oauth/callback/{app_key}.
CREATE TABLE applications (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT NOT NULL UNIQUE,
    app_key     TEXT NOT NULL UNIQUE,
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    allowed_ips TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE mail_servers (
    id                   INTEGER PRIMARY KEY,
    subject              TEXT NOT NULL,
    subject_key          TEXT NOT NULL UNIQUE,
    auth_method          TEXT NOT NULL CHECK (auth_method IN ('password', 'oauth2')),
    provider             TEXT CHECK (provider IN ('google', 'microsoft', 'generic')),
    client_id            TEXT,
    client_secret_enc    BLOB,
    application_id       INTEGER REFERENCES applications(id) ON DELETE RESTRICT,
    tenant               TEXT NOT NULL DEFAULT '',
    issuer_url           TEXT,
    -- discovered endpoints, for generic providers only
    auth_url             TEXT,
    token_url            TEXT,
    userinfo_url         TEXT,
    revocation_url       TEXT,
    scopes               TEXT NOT NULL DEFAULT '',
    imap_host            TEXT NOT NULL,
    imap_port            INTEGER NOT NULL,
    imap_encryption      TEXT NOT NULL,
    smtp_host            TEXT NOT NULL,
    smtp_port            INTEGER NOT NULL,
    smtp_encryption      TEXT NOT NULL,
    validate_certificate INTEGER NOT NULL DEFAULT 1,
    active               INTEGER NOT NULL DEFAULT 1,
    visible_to_users     INTEGER NOT NULL DEFAULT 1,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);

CREATE TABLE mail_accounts (
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
    UNIQUE (mail_server_id, login_key)
);
CREATE INDEX mail_accounts_owner ON mail_accounts(owner_id);
CREATE INDEX mail_accounts_refresh ON mail_accounts(status, access_expires_at);
