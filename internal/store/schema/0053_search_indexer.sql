-- Search indexing leaves the send path (issue 17): an indexer follows the
-- message log, and each conversation remembers up to which seq its
-- messages are indexed. Everything stored so far was indexed when sent.
-- The partial index holds only conversations with messages to index, so
-- the indexer finds them without reading the others.
ALTER TABLE conversations ADD COLUMN indexed_seq INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET indexed_seq = last_seq;
CREATE INDEX conversations_unindexed ON conversations (id) WHERE last_seq > indexed_seq;
