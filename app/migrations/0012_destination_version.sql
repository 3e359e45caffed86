-- Issue 13: bumped whenever a change moves where a server's tokens go. A grant is stored only
-- while the server is still at the version its authorisation started with, in the same
-- statement, so a change that lands during the code exchange cannot be missed.
ALTER TABLE mail_servers ADD COLUMN destination_version INTEGER NOT NULL DEFAULT 0;
