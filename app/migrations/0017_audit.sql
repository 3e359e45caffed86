-- Issue 16: the audit trail. Who (a user, an API key, the system), what, when, from where;
-- the ids of what it concerns are kept without foreign keys (the entry outlives them) and its
-- words in `summary` (names as they were then, never a secret's value).
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('user', 'api_key', 'system')),
    actor_id    INTEGER,
    actor_label TEXT NOT NULL,
    kind        TEXT NOT NULL,
    account_id  INTEGER,
    server_id   INTEGER,
    user_id     INTEGER,
    summary     TEXT NOT NULL,
    client_addr TEXT
);
CREATE INDEX audit_events_at ON audit_events(at, id);
CREATE INDEX audit_events_account ON audit_events(account_id, at);
CREATE INDEX audit_events_server ON audit_events(server_id, at);
CREATE INDEX audit_events_actor ON audit_events(actor_kind, actor_id, at);

-- Refreshes that worked, counted per account and day (Unix day) instead of one entry each.
CREATE TABLE refresh_counts (
    account_id INTEGER NOT NULL,
    day        INTEGER NOT NULL,
    refreshes  INTEGER NOT NULL,
    PRIMARY KEY (account_id, day)
);
