-- Personal data exports (R-RGT-1). The archive itself is a blob ("x" + id),
-- sealed with the person's own key, so it is shredded with the account.
-- Times are microseconds since the Unix epoch, UTC; 0 means "not yet".
-- heartbeat_at is touched by the node building the export: a pending job
-- whose heartbeat is stale was left behind by a node that died.
-- purged says the blob was deleted after expires_at (retention).
CREATE TABLE exports (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    finished_at  INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    error_code   TEXT NOT NULL,
    purged       BOOLEAN NOT NULL
);
CREATE INDEX exports_user ON exports (user_id, created_at);
-- At most one export per person is being built at a time, on any node.
CREATE UNIQUE INDEX exports_one_pending ON exports (user_id) WHERE status = 'pending';
CREATE INDEX exports_expiry ON exports (expires_at);
