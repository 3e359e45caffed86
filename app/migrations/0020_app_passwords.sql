-- Issue 17: app passwords for the SMTP relay and the IMAP proxy. A password is stored only as
-- its Argon2id hash; `hint` (its first 4 of 32 characters) finds the row without trying every
-- hash. Names are unique among a mailbox's live passwords; a revoked one frees its name.
CREATE TABLE app_passwords (
    id                 INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL REFERENCES mail_accounts(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    name_key           TEXT NOT NULL,
    hint               TEXT NOT NULL,
    hash               TEXT NOT NULL,
    created_by         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at         INTEGER NOT NULL,
    revoked_at         INTEGER,
    last_used_at       INTEGER,
    last_used_addr     TEXT,
    last_used_protocol TEXT
);
CREATE UNIQUE INDEX app_passwords_live_name ON app_passwords(account_id, name_key)
    WHERE revoked_at IS NULL;
CREATE INDEX app_passwords_hint ON app_passwords(hint);
