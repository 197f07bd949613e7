-- Automated decisions that restrict someone, with their rule, inputs and
-- reasons in words (R-ADM-1); login history for risk control (R-DEV-3); a
-- flag for device records whose login IP has been truncated (R-DEV-2).
CREATE TABLE decisions (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    rule       TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    details    BLOB NOT NULL,
    appeal_id  TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX decisions_user ON decisions (user_id, created_at);

CREATE TABLE known_networks (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    network_idx BLOB NOT NULL,
    last_seen   INTEGER NOT NULL,
    PRIMARY KEY (user_id, network_idx)
);

ALTER TABLE devices ADD COLUMN ip_truncated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN locked_until INTEGER NOT NULL DEFAULT 0;
