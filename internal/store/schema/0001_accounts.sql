-- Accounts, devices, sessions, one-time codes, the consent ledger and policies.
-- Personal fields are sealed blobs; *_idx columns are keyed hashes for look-ups.
-- Times are microseconds since the Unix epoch, UTC.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username_idx  BLOB NOT NULL UNIQUE,
    phone_idx     BLOB NOT NULL UNIQUE,
    profile       BLOB NOT NULL,
    password_hash TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE devices (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_idx   BLOB NOT NULL,
    sealed       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_idx)
);

CREATE TABLE sessions (
    token_hash   BLOB PRIMARY KEY,
    user_id      TEXT NOT NULL,
    device_idx   BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    FOREIGN KEY (user_id, device_idx) REFERENCES devices (user_id, device_idx) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (user_id, device_idx);

CREATE TABLE codes (
    phone_idx  BLOB NOT NULL,
    purpose    TEXT NOT NULL,
    code_mac   BLOB NOT NULL,
    attempts   INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (phone_idx, purpose)
);

CREATE TABLE consents (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL,
    subject        TEXT NOT NULL,
    granted        BOOLEAN NOT NULL,
    purpose        TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    method         TEXT NOT NULL,
    at             INTEGER NOT NULL
);
CREATE INDEX consents_user ON consents (user_id, kind, subject, seq);

CREATE TABLE policies (
    version      TEXT PRIMARY KEY,
    major        BOOLEAN NOT NULL,
    text         TEXT NOT NULL,
    published_at INTEGER NOT NULL
);
