-- Issue 16: what ends a server's grants on a known day. A client secret's expiry date (UTC
-- midnight of that day, Unix seconds; NULL = not given), Google's publishing status ('' when
-- not Google or not given), and when each account's grant was given (a Testing app's grants
-- end 7 days after consent).
ALTER TABLE mail_servers ADD COLUMN client_secret_expires_at INTEGER;
ALTER TABLE mail_servers ADD COLUMN publishing_status TEXT NOT NULL DEFAULT ''
    CHECK (publishing_status IN ('', 'testing', 'production'));
ALTER TABLE mail_accounts ADD COLUMN granted_at INTEGER;
