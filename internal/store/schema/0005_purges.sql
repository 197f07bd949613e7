-- Accounts whose rows are still being purged after destruction (R-DEL-2):
-- the key is gone already; the purge job empties message bodies and media
-- in bounded batches and removes the row when done.
CREATE TABLE purges (
    user_id     TEXT PRIMARY KEY,
    enqueued_at INTEGER NOT NULL
);
