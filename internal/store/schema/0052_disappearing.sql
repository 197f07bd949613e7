-- Disappearing messages (R-MSG-10, issue 15): a conversation's timer in
-- seconds (0: off), and each message's moment of expiry (NULL: never), set
-- when it is stored from the timer then in force. The expiry sweeper finds
-- due messages through the partial index and deletes them, their index rows
-- and their media.
ALTER TABLE conversations ADD COLUMN disappear_after_s INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN expires_at INTEGER;
CREATE INDEX messages_expiry ON messages (expires_at) WHERE expires_at IS NOT NULL;
