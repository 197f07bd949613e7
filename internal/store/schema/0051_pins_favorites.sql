-- Pinned chats and Favorites (R-MSG-9, issue 15).
-- A pin is the member's own setting: when they pinned (0: not pinned), so
-- pinned chats list first, the latest pin on top.
ALTER TABLE members ADD COLUMN pinned_at INTEGER NOT NULL DEFAULT 0;

-- Favorites: what a person saved (a message, with its media, or a Moment),
-- as a copy sealed with their own key, so it stays theirs and readable only
-- by them. media_id names one of their own uploads (a copy made for the
-- favorite) so retention keeps it; the sealed copy lists the rest. Rows go
-- with the person.
CREATE TABLE favorites (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX favorites_user ON favorites (user_id, created_at);

CREATE TABLE favorite_media (
    favorite_id TEXT NOT NULL REFERENCES favorites (id) ON DELETE CASCADE,
    media_id    TEXT NOT NULL,
    PRIMARY KEY (favorite_id, media_id)
);
CREATE INDEX favorite_media_media ON favorite_media (media_id);
