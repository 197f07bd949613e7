-- Sharing with recipients and its transparency (R-SHR-1..3, R-XBT-1, R-DEL-4),
-- public links to one post (R-SHR-4), support tickets (R-OPS-1),
-- announcements (R-OPS-2) and the cessation of the service (R-OPS-3).

-- Recipients the operator may share with: affiliates, partners, SDKs. secret
-- signs the deletion notices (and deliveries) sent to them.
CREATE TABLE recipients (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    categories   TEXT NOT NULL,
    region       TEXT NOT NULL,
    deletion_url TEXT NOT NULL,
    delivery_url TEXT NOT NULL,
    secret       TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);

-- Every transfer to a recipient, and every refused one. No foreign key to
-- users: a record outlives the account until the recipient has acknowledged
-- the deletion notice; then user_id is emptied.
CREATE TABLE sharing_records (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    recipient_id    TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    categories      TEXT NOT NULL,
    basis           TEXT NOT NULL,
    reference       TEXT NOT NULL,
    status          TEXT NOT NULL,
    refusal         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    deletion_reason TEXT NOT NULL,
    deletion_at     INTEGER NOT NULL,
    notified_at     INTEGER NOT NULL,
    acked_at        INTEGER NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT NOT NULL
);
CREATE INDEX sharing_records_user ON sharing_records (user_id, created_at);
CREATE INDEX sharing_records_pending ON sharing_records (deletion_at, acked_at, next_attempt_at);

-- Public links to one post; only the token's hash is kept.
CREATE TABLE share_links (
    token_hash BLOB PRIMARY KEY,
    moment_id  TEXT NOT NULL REFERENCES moments (id) ON DELETE CASCADE,
    author_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL
);
CREATE INDEX share_links_moment ON share_links (moment_id);

-- Announcements to everyone: not personal data.
CREATE TABLE announcements (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX announcements_time ON announcements (created_at);

-- Support tickets and complaints; subject and messages sealed with the
-- requester's key, so destroying the account shreds them.
CREATE TABLE tickets (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL,
    subject    BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    closed_at  INTEGER NOT NULL
);
CREATE INDEX tickets_user ON tickets (user_id, created_at);
CREATE INDEX tickets_status ON tickets (status, updated_at);
CREATE INDEX tickets_closed ON tickets (closed_at);

CREATE TABLE ticket_messages (
    id         TEXT PRIMARY KEY,
    ticket_id  TEXT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    author     TEXT NOT NULL,
    staff_id   TEXT NOT NULL,
    body       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, created_at);

-- Operator state: the cessation of the service.
CREATE TABLE service_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    at    INTEGER NOT NULL
);
