-- Issue 14: several instances on one database refresh each account at most once at a time. The
-- instance that refreshes holds a lease on the row until it is done; a lease whose holder died
-- expires and another instance takes over.
ALTER TABLE mail_accounts ADD COLUMN refresh_lease_owner TEXT;
ALTER TABLE mail_accounts ADD COLUMN refresh_lease_until INTEGER;
