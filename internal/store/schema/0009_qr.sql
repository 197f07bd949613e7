-- QR codes (R-QR-1, R-QR-2). No token is stored: only keyed hashes
-- (token_idx, poll_idx) to find a row by what a scanner presents, and a random
-- salt from which the server re-derives a code's token with its index key to
-- draw the picture again. What a login page says about itself is sealed with
-- a data key of that request alone, destroyed when the request ends.

-- One personal "add me" code per person; a reset replaces the salt.
CREATE TABLE qr_friend_codes (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    salt       BLOB NOT NULL,
    token_idx  BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

-- Group invitation codes: they expire and can be revoked; they die with the
-- group and with the person who made them.
CREATE TABLE qr_group_codes (
    id         TEXT PRIMARY KEY,
    conv_id    TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    creator_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    salt       BLOB NOT NULL,
    token_idx  BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX qr_group_codes_conv ON qr_group_codes (conv_id);
CREATE INDEX qr_group_codes_expires ON qr_group_codes (expires_at);

-- Per-group "joining needs approval"; no row means off.
CREATE TABLE qr_group_settings (
    conv_id       TEXT PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    join_approval BOOLEAN NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Requests to join a group that needs approval.
CREATE TABLE qr_join_requests (
    id         TEXT PRIMARY KEY,
    conv_id    TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_by TEXT,
    decided_at INTEGER
);
CREATE UNIQUE INDEX qr_join_requests_pending ON qr_join_requests (conv_id, user_id) WHERE status = 'pending';
CREATE INDEX qr_join_requests_conv ON qr_join_requests (conv_id, created_at);

-- Scan-to-login requests from web pages, short-lived and single-use.
CREATE TABLE qr_logins (
    id         TEXT PRIMARY KEY,
    token_idx  BLOB NOT NULL UNIQUE,
    poll_idx   BLOB NOT NULL,
    requester  BLOB NOT NULL,
    status     TEXT NOT NULL,
    scanner_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX qr_logins_expires ON qr_logins (expires_at);
