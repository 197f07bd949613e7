-- Policy acceptance per account (for the major-update gate), and rights
-- requests with their 30-day deadline (R-RGT-2). Details and answers are
-- sealed with the requester's key.
ALTER TABLE users ADD COLUMN policy_accepted_at INTEGER NOT NULL DEFAULT 0;

CREATE TABLE rights_requests (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    fingerprint BLOB NOT NULL,
    details     BLOB NOT NULL,
    status      TEXT NOT NULL,
    answer      BLOB,
    received_at INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    verified_at INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX rights_requests_user ON rights_requests (user_id, received_at);
CREATE INDEX rights_requests_queue ON rights_requests (status, due_at);
