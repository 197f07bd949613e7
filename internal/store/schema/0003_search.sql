-- The message search index: keyed hashes of tokens, never the tokens
-- themselves. Rows go with their message (recall, destruction).
CREATE TABLE search_tokens (
    token   BLOB NOT NULL,
    conv_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (token, conv_id, seq)
);
CREATE INDEX search_tokens_message ON search_tokens (conv_id, seq);
CREATE INDEX messages_sender ON messages (sender_id);
