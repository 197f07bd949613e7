-- Friends, blocks, settings, conversations, members, messages and media.
-- Text people write (greetings, remarks, message bodies, group names) is sealed:
-- with the writer's data key, or the conversation's key for group metadata.
CREATE TABLE settings (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    doc        TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE friends (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    friend_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    remark     BLOB,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);
CREATE INDEX friends_friend ON friends (friend_id);

CREATE TABLE friend_requests (
    id         TEXT PRIMARY KEY,
    from_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    greeting   BLOB NOT NULL,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX friend_requests_to ON friend_requests (to_id, created_at);
CREATE INDEX friend_requests_from ON friend_requests (from_id, created_at);

CREATE TABLE blocks (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);
CREATE INDEX blocks_blocked ON blocks (blocked_id);

CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    direct_key TEXT UNIQUE,
    meta       BLOB,
    last_seq   INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE members (
    conv_id      TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    joined_seq   INTEGER NOT NULL,
    received_seq INTEGER NOT NULL,
    read_seq     INTEGER NOT NULL,
    muted        BOOLEAN NOT NULL,
    joined_at    INTEGER NOT NULL,
    PRIMARY KEY (conv_id, user_id)
);
CREATE INDEX members_user ON members (user_id);

CREATE TABLE messages (
    conv_id   TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    id        TEXT NOT NULL UNIQUE,
    sender_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    body      BLOB,
    media_id  TEXT,
    sent_at   INTEGER NOT NULL,
    recalled  BOOLEAN NOT NULL,
    PRIMARY KEY (conv_id, seq)
);
CREATE UNIQUE INDEX messages_client ON messages (sender_id, client_id);
CREATE INDEX messages_media ON messages (media_id);

CREATE TABLE hidden_messages (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conv_id TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, conv_id, seq)
);

CREATE TABLE media (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT NOT NULL,
    kind       TEXT NOT NULL,
    mime       TEXT NOT NULL,
    size       INTEGER NOT NULL,
    meta       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX media_owner ON media (owner_id);
