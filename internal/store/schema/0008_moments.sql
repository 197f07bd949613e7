-- Moments (R-MOM-1..4). Post bodies and comments are sealed with their
-- writer's key; the audience list, media references, likes and the hiding
-- preferences are plaintext ids, because the visibility rules read them.
CREATE TABLE moments (
    id         TEXT PRIMARY KEY,
    author_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       BLOB NOT NULL,
    visibility TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX moments_author ON moments (author_id, created_at);
CREATE INDEX moments_time ON moments (created_at, id);

CREATE TABLE moment_audience (
    moment_id TEXT NOT NULL REFERENCES moments (id) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    PRIMARY KEY (moment_id, user_id)
);

CREATE TABLE moment_media (
    moment_id TEXT NOT NULL REFERENCES moments (id) ON DELETE CASCADE,
    media_id  TEXT NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (moment_id, media_id)
);
CREATE INDEX moment_media_media ON moment_media (media_id);

CREATE TABLE moment_likes (
    moment_id  TEXT NOT NULL REFERENCES moments (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (moment_id, user_id)
);

CREATE TABLE moment_comments (
    id         TEXT PRIMARY KEY,
    moment_id  TEXT NOT NULL REFERENCES moments (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    reply_to   TEXT,
    body       BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX moment_comments_moment ON moment_comments (moment_id, created_at);

-- hide: user_id hides their posts from target; mute: user_id does not want
-- to see target's posts.
CREATE TABLE moment_prefs (
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id TEXT NOT NULL,
    kind      TEXT NOT NULL,
    PRIMARY KEY (user_id, target_id, kind)
);
CREATE INDEX moment_prefs_target ON moment_prefs (target_id, kind);
