-- SQLite's 0018: a client secret's expiry, Google's publishing status, when a grant was given.
ALTER TABLE mail_servers ADD COLUMN client_secret_expires_at BIGINT;
ALTER TABLE mail_servers ADD COLUMN publishing_status TEXT NOT NULL DEFAULT ''
    CHECK (publishing_status IN ('', 'testing', 'production'));
ALTER TABLE mail_accounts ADD COLUMN granted_at BIGINT;
