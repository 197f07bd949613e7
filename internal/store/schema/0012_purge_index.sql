-- The purge looks for a destroyed sender's messages that still hold a body;
-- this partial index keeps each batch from rescanning the ones already done.
CREATE INDEX messages_sender_live ON messages (sender_id) WHERE body IS NOT NULL OR media_id IS NOT NULL;
