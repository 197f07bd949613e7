-- Moments timelines by fan-out on write (issue 19). A post is stored once,
-- in moments; a reference to it goes to the timeline of every viewer its
-- visibility allows, so a timeline page is one range read of the viewer's
-- own rows however many friends they have. A reference holds ids and the
-- post's time only: it is the viewer's personal data as a reference, and
-- leaves with the post, with the friendship and with either account.
--
-- No foreign keys on purpose: a cascade from users or moments would delete
-- up to posts x friends rows inside the destroying transaction. Deleting a
-- post or ending a friendship deletes its rows itself; the purge removes a
-- destroyed person's rows in bounded batches (both sides). Until then the
-- read joins moments, so a reference to a deleted post is never shown.
-- WITHOUT ROWID (SQLite; PostgreSQL's copy drops it): the rows live in the
-- primary key, one B-tree fewer to write per reference.
CREATE TABLE moment_timeline (
    viewer_id  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    moment_id  TEXT NOT NULL,
    author_id  TEXT NOT NULL,
    PRIMARY KEY (viewer_id, created_at, moment_id)
) WITHOUT ROWID;
CREATE INDEX moment_timeline_author ON moment_timeline (author_id, viewer_id);
CREATE INDEX moment_timeline_moment ON moment_timeline (moment_id);

-- Fan-outs acknowledged but not finished: the durable marker that makes a
-- post written just before a crash still reach every timeline. kind 'post'
-- sends moment_id to the author's friends, batch by batch in friend-id
-- order (after_id is the last friend done); kind 'backfill' sends
-- author_id's existing posts to one new viewer (a new friend, an unhide,
-- an unmute), batch by batch in post order (after_at, after_id). Unused
-- columns hold '' so the natural key is unique and an enqueue is idempotent.
-- On PostgreSQL several nodes share the queue: a node leases a job
-- (leased_until) so the others leave it alone until the lease runs out.
CREATE TABLE moment_fanout (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    author_id   TEXT NOT NULL,
    viewer_id   TEXT NOT NULL DEFAULT '',
    moment_id   TEXT NOT NULL DEFAULT '',
    after_at    INTEGER NOT NULL DEFAULT 0,
    after_id    TEXT NOT NULL DEFAULT '',
    leased_until INTEGER NOT NULL DEFAULT 0,
    enqueued_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX moment_fanout_key ON moment_fanout (kind, author_id, viewer_id, moment_id);
CREATE INDEX moment_fanout_viewer ON moment_fanout (viewer_id, kind);
