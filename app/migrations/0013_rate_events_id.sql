-- Issue 14 preparation: an explicit key for counted events (giving one back named SQLite's rowid,
-- which PostgreSQL does not have). The counts are short-lived; they start again empty.
DROP TABLE rate_events;
CREATE TABLE rate_events (
    id      INTEGER PRIMARY KEY,
    kind    TEXT NOT NULL,
    subject INTEGER NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX rate_events_lookup ON rate_events(kind, subject, at);
