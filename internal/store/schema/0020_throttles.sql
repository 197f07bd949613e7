-- Counters behind throttles and lockouts: failed passwords and codes per
-- account and per network, codes asked for per phone and per address. They
-- live in the database so that every node counts the same tries and a
-- restart forgets none of them (issue 14, issue 18). A key is "rule:" and an
-- opaque index (a keyed hash of an account, phone or network), never a phone
-- number or an address in clear. Rows past expires_at are dead and purged.
CREATE TABLE throttles (
    key        TEXT PRIMARY KEY,
    hits       INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX throttles_expiry ON throttles (expires_at);
