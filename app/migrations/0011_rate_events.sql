-- Issue 14: counts that limit how often something may happen (connection tests per user,
-- refused password logins from tests, forced refreshes per account) live in the database, so
-- that every instance sharing it enforces the same limit.
CREATE TABLE rate_events (
    kind    TEXT NOT NULL,
    subject INTEGER NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX rate_events_lookup ON rate_events(kind, subject, at);
