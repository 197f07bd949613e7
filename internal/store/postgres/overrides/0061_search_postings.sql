-- The search index as posting lists per batch (issue 17, fifth pass; see
-- store/postings.go). An indexer pass writes one row of search_batches
-- (its messages) and one row of search_postings per token it holds, with
-- the batch's item numbers of the messages that hold it, instead of a row
-- per token and message. search_message_tokens keeps per message its
-- batch, item and token keys, for removing it.
--
-- PostgreSQL only: on SQLite the index is a file of its own
-- (store/sqlite/searchindex.go), whose version 2 has these tables and is
-- built again from the messages. Here too the old rows cannot be
-- converted, so every conversation is indexed again in the background (as
-- schema 0057 did); until then older messages may be missing from search
-- results.
DROP TABLE search_tokens;
DROP TABLE search_message_tokens;
CREATE TABLE search_batches (
    batch BIGSERIAL PRIMARY KEY,
    msgs  BYTEA NOT NULL
);
CREATE TABLE search_postings (
    token BYTEA NOT NULL,
    batch BIGINT NOT NULL,
    items BYTEA NOT NULL,
    PRIMARY KEY (token, batch)
);
CREATE TABLE search_message_tokens (
    conv_id TEXT NOT NULL,
    seq     BIGINT NOT NULL,
    sent_at BIGINT NOT NULL,
    batch   BIGINT NOT NULL,
    item    BIGINT NOT NULL,
    tokens  BYTEA NOT NULL,
    PRIMARY KEY (conv_id, seq)
);
UPDATE conversations SET indexed_seq = 0 WHERE indexed_seq > 0;
