-- Issue 16: e-mail notices, queued like webhook deliveries. What a notice says is written when
-- it is sent (the account as it is then: one authorised again meanwhile gets none); the
-- dedupe key keeps one notice per cause (an account's needs_reauth at a time, an error
-- episode, an admin's digest of a day) across instances.
CREATE TABLE notices (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('needs_reauth', 'error', 'digest')),
    dedupe_key      TEXT NOT NULL UNIQUE,
    account_id      INTEGER,
    recipient       TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX notices_due ON notices(state, next_attempt_at);
