-- Issue 13: where the server sent its tokens when an authorisation started (a digest of its
-- destination settings); the callback refuses to go on when the server changed in between.
ALTER TABLE oauth_states ADD COLUMN destination TEXT;
