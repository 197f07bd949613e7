-- The purge of a destroyed sender runs in two steps (issue 17, R-DEL-2,
-- R-DEL-4): their message bodies are emptied first, which is one cheap
-- update a message, then their words leave the search index, which is
-- dozens of index rows a message and most of the work. unindex_pending
-- marks an emptied message whose search tokens are still to delete; the
-- partial index holds only those, so each batch of the second step finds
-- the next ones without rescanning the done ones, and a purge cut short by
-- a crash carries on from the marks.
ALTER TABLE messages ADD COLUMN unindex_pending BOOLEAN;
CREATE INDEX messages_sender_unindex ON messages (sender_id) WHERE unindex_pending IS NOT NULL;
