-- The lock-out counts failures per (address, client) pair.
CREATE INDEX sign_in_failures_pair ON sign_in_failures(email_key, client_addr, at);
