-- The search index in a cheaper shape (issue 17: indexing was ~31 % of the
-- server's CPU in B2, most of it B-tree inserts and the pages they dirty).
--
-- search_tokens's key led with (token, conv_id), so a pass's rows for a
-- common word landed on another page for every conversation it touched,
-- and each commit wrote all those pages out; each row also went into the
-- table, its key and search_tokens_message. Now the key is (token,
-- sent_at, conv_id, seq): new messages' rows go to the end of each
-- token's range, a few pages per token per pass; the table is stored in
-- its key (WITHOUT ROWID on SQLite), and a token keeps the first 8 bytes
-- of its keyed hash (a search confirms every candidate on its decrypted
-- text, so a rare collision costs one look). One B-tree insert per row.
--
-- Removing a message's rows (recall, expiry, the purge of a destroyed
-- person, whose key is gone so its tokens cannot be recomputed) reads
-- them from search_message_tokens: one row per indexed message holding
-- its token keys, instead of one secondary-index entry per token.
-- Neither table has a foreign key (checked per row, and it makes every
-- insert statement keep a journal): store.DeleteConversation removes a
-- conversation's rows first.
--
-- The old rows cannot be converted (they lack the messages' token lists),
-- so every conversation is indexed again: the indexer works the backlog
-- off in passes of 256 messages, at most half the time (sends go first),
-- oldest conversations' messages in order, and a search lets it catch up
-- for up to a second first. Until it is done, older messages may be missing
-- from search results; nothing else waits for it.
DROP TABLE search_tokens;
CREATE TABLE search_tokens (
    token   BLOB NOT NULL,
    sent_at INTEGER NOT NULL,
    conv_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (token, sent_at, conv_id, seq)
) WITHOUT ROWID;
CREATE TABLE search_message_tokens (
    conv_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    sent_at INTEGER NOT NULL,
    tokens  BLOB NOT NULL,
    PRIMARY KEY (conv_id, seq)
) WITHOUT ROWID;
UPDATE conversations SET indexed_seq = 0 WHERE indexed_seq > 0;
