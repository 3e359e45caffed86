-- Issue 15: API keys for programs, and the record of every access token handed out.
-- A key is stored only as its SHA-256 (key_hash) with a short prefix for display. Flags are
-- INTEGER 0/1 like the other tables: a column declared BOOLEAN reaches sqlx's Any driver as a
-- SQLite type it cannot map.
CREATE TABLE api_keys (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL UNIQUE,
    prefix         TEXT NOT NULL,
    key_hash       TEXT NOT NULL UNIQUE,
    all_servers    INTEGER NOT NULL CHECK (all_servers IN (0, 1)),
    perm_tokens    INTEGER NOT NULL CHECK (perm_tokens IN (0, 1)),
    perm_accounts  INTEGER NOT NULL CHECK (perm_accounts IN (0, 1)),
    allowed_ips    TEXT NOT NULL DEFAULT '',
    expires_at     INTEGER,
    revoked_at     INTEGER,
    last_used_at   INTEGER,
    last_used_addr TEXT,
    created_by     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at     INTEGER NOT NULL
);

-- The servers a key may reach when it is not for all of them.
CREATE TABLE api_key_servers (
    api_key_id     INTEGER NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    mail_server_id INTEGER NOT NULL REFERENCES mail_servers(id) ON DELETE CASCADE,
    PRIMARY KEY (api_key_id, mail_server_id)
);

CREATE TABLE token_handouts (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES mail_accounts(id) ON DELETE CASCADE,
    api_key_id  INTEGER REFERENCES api_keys(id) ON DELETE SET NULL,
    key_name    TEXT NOT NULL,
    at          INTEGER NOT NULL,
    client_addr TEXT NOT NULL
);
CREATE INDEX token_handouts_account ON token_handouts(account_id, at);
