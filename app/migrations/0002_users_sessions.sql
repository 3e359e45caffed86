CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL,
    -- lower-cased email: uniqueness is case-insensitive
    email_key       TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'user')),
    active          INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    password_hash   TEXT NOT NULL,
    last_sign_in_at INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Only a SHA-256 of the cookie's token is stored: a copy of the database opens no session.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE sign_in_failures (
    id          INTEGER PRIMARY KEY,
    email_key   TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX sign_in_failures_email ON sign_in_failures(email_key, at);
CREATE INDEX sign_in_failures_client ON sign_in_failures(client_addr, at);
