-- Mentions (R-MSG-7, issue 15): who a message names with @, one row per
-- person (an @all is written out for every member but the sender), so a
-- mention can reach a muted chat, mark the chat list ("[@you]") and be found
-- by the person it names. Ids only: who was mentioned is also in the sealed
-- body. Rows go with their message (recall, the purge of a destroyed
-- sender's bodies, the conversation) and with the person mentioned.
CREATE TABLE message_mentions (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conv_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, conv_id, seq)
);
CREATE INDEX message_mentions_message ON message_mentions (conv_id, seq);
