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

-- A program signed in with an app password is a fourth kind of actor. SQLite cannot change a
-- CHECK in place: the table is rebuilt with its rows and indexes.
CREATE TABLE audit_events_new (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'app_password', 'system')),
    actor_id    INTEGER,
    actor_label TEXT NOT NULL,
    kind        TEXT NOT NULL,
    account_id  INTEGER,
    server_id   INTEGER,
    user_id     INTEGER,
    summary     TEXT NOT NULL,
    client_addr TEXT
);
INSERT INTO audit_events_new SELECT id, at, actor_kind, actor_id, actor_label, kind, account_id,
    server_id, user_id, summary, client_addr FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_new RENAME TO audit_events;
CREATE INDEX audit_events_at ON audit_events(at, id);
CREATE INDEX audit_events_account ON audit_events(account_id, at);
CREATE INDEX audit_events_server ON audit_events(server_id, at);
CREATE INDEX audit_events_actor ON audit_events(actor_kind, actor_id, at);
