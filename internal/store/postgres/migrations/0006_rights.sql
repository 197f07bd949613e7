-- Policy acceptance per account (for the major-update gate), and rights
-- requests with their 30-day deadline (R-RGT-2). Details and answers are
-- sealed with the requester's key.
ALTER TABLE users ADD COLUMN policy_accepted_at BIGINT NOT NULL DEFAULT 0;

CREATE TABLE rights_requests (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    details     BYTEA NOT NULL,
    status      TEXT NOT NULL,
    answer      BYTEA,
    received_at BIGINT NOT NULL,
    due_at      BIGINT NOT NULL,
    verified_at BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX rights_requests_user ON rights_requests (user_id, received_at);
CREATE INDEX rights_requests_queue ON rights_requests (status, due_at);
