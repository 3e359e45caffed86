-- Issue 15: webhooks, and the outbox of events they are sent.
-- `events` is the subscribed codes between commas (",account.linked,account.error,") so that
-- one portable LIKE picks the webhooks an event goes to. The secret is sealed like the other
-- secrets (it must be read back to sign).
CREATE TABLE webhooks (
    id          INTEGER PRIMARY KEY,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    secret_enc  BLOB NOT NULL,
    active      INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL
);

-- The outbox: written in the same transaction as the change it reports. `body` is the JSON
-- sent, built then (an account.deleted event outlives its account, so no foreign key).
CREATE TABLE webhook_events (
    id          INTEGER PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    account_id  INTEGER,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- One event for one webhook. A pending delivery waits for every earlier pending one of the
-- same webhook and account (order per account); `lease_*` makes one instance its sender.
CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY,
    webhook_id       INTEGER NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id         INTEGER NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    account_id       INTEGER,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    lease_owner      TEXT,
    lease_until      INTEGER,
    last_attempt_at  INTEGER,
    last_code        INTEGER,
    last_duration_ms INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries(webhook_id, account_id, state, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries(event_id);
