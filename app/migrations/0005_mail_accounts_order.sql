-- The Mail accounts list is ordered by name (case-insensitive), then id, and shows 50 rows at a
-- time: with this index SQLite reads the first 50 in order instead of sorting every account.
CREATE INDEX mail_accounts_name ON mail_accounts(name COLLATE NOCASE, id);
