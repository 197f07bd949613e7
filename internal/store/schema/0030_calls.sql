-- Live calls (R-CAL-1): one row per call while it rings or is active, the
-- whole state as one JSON document changed by compare-and-swap on version.
-- An ended call's row is deleted; what remains is its call record message.
-- participants is "|user|user|" for finding the calls someone is in, and
-- members likewise for the calls ringing someone who just connected.
CREATE TABLE calls (
    id           TEXT PRIMARY KEY,
    conv_id      TEXT NOT NULL UNIQUE,
    doc          BLOB NOT NULL,
    participants TEXT NOT NULL,
    members      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
