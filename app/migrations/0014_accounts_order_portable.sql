-- The accounts list orders by lower(name), which PostgreSQL can also index, instead of
-- SQLite's own COLLATE NOCASE: one ORDER BY for both backends, still served by an index.
DROP INDEX mail_accounts_name;
CREATE INDEX mail_accounts_name ON mail_accounts(lower(name), id);
