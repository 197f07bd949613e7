-- On SQLite the search index moves to a database file of its own,
-- search.db beside tkesj.db (issue 17, package store/sqlite): SQLite has
-- one write lock per file, and a send's group commit waited for whichever
-- index slice held it. The indexer now follows the message log by rowid,
-- with its position in the index file, and never writes here but to clear
-- search_unindex.
--
-- The index tables go; the index file is built again from the messages by
-- the indexer, in the background (as schema 0057 did), and until it is done
-- older messages may be missing from search results. indexed_seq stays
-- (PostgreSQL's indexer uses it) but nothing moves it here, so the partial
-- index that found conversations behind goes too.
--
-- search_unindex is what the writer's transactions ask the index file to
-- forget: a recalled or expired message (seq), a deleted conversation (seq
-- NULL), a destroyed sender's emptied messages. The indexer deletes their
-- rows in the index file and then these entries. floor is the largest
-- message rowid when the entry was made: SQLite gives a new row the
-- largest rowid plus one, so after the newest messages are deleted their
-- rowids come back, and the indexer moves its position down to floor to
-- read them.
DROP TABLE search_tokens;
DROP TABLE search_message_tokens;
DROP INDEX conversations_unindexed;
CREATE TABLE search_unindex (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    conv_id TEXT NOT NULL,
    seq     INTEGER,
    floor   INTEGER NOT NULL
);
