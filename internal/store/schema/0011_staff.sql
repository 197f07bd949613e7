-- Staff roles, the append-only audit log of staff access (R-SEC-1), notices
-- in the app and security incidents (R-SEC-4), legal holds (R-LEG-1), and
-- reports, restrictions and anonymous enforcement counts (policy §2 (III) 2).

-- A staff member is an ordinary account with one role.
CREATE TABLE staff (
    user_id  TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    role     TEXT NOT NULL,
    added_by TEXT NOT NULL,
    added_at INTEGER NOT NULL
);

-- Every staff read of personal data and every staff action. No foreign keys:
-- an entry outlives the accounts it names (by opaque id only). details is
-- sealed with the subject's key (purpose, reference), so it is shredded with
-- the subject's account; note holds only words that are not personal.
CREATE TABLE audit_log (
    id             TEXT PRIMARY KEY,
    actor_id       TEXT NOT NULL,
    actor_role     TEXT NOT NULL,
    action         TEXT NOT NULL,
    subject_id     TEXT NOT NULL,
    target         TEXT NOT NULL,
    note           TEXT NOT NULL,
    details        BLOB,
    visible        INTEGER NOT NULL,
    deferred_until INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, created_at);
CREATE INDEX audit_log_created ON audit_log (created_at);

-- Notices to one person in the app (incidents, moderation).
CREATE TABLE notices (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    body       BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notices_user ON notices (user_id, created_at);

CREATE TABLE incidents (
    id          TEXT PRIMARY KEY,
    summary     TEXT NOT NULL,
    categories  TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    recorded_by TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- Who an incident touched and when each was told; a destroyed account leaves.
CREATE TABLE incident_people (
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    notice_id   TEXT NOT NULL,
    notified_at INTEGER NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);

-- Legal holds: no foreign key to the subject, which may be destroyed while held.
CREATE TABLE legal_holds (
    id           TEXT PRIMARY KEY,
    subject_kind TEXT NOT NULL,
    subject_id   TEXT NOT NULL,
    ground       TEXT NOT NULL,
    reference    TEXT NOT NULL,
    status       TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at INTEGER NOT NULL,
    approved_by  TEXT NOT NULL DEFAULT '',
    approved_at  INTEGER NOT NULL DEFAULT 0,
    released_by  TEXT NOT NULL DEFAULT '',
    released_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX legal_holds_subject ON legal_holds (subject_kind, subject_id, status);

-- Reports by people; the reason is sealed with the reporter's key.
CREATE TABLE reports (
    id             TEXT PRIMARY KEY,
    reporter_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_kind    TEXT NOT NULL,
    target_id      TEXT NOT NULL,
    target_user_id TEXT NOT NULL,
    reason         BLOB NOT NULL,
    status         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    resolved_at    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reports_status ON reports (status, created_at);
CREATE INDEX reports_reporter ON reports (reporter_id, created_at);

-- Moderation restrictions: until 0 means no end (a ban).
CREATE TABLE restrictions (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    until_at    INTEGER NOT NULL,
    decision_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    lifted_at   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX restrictions_user ON restrictions (user_id);

-- The public enforcement page: counts per month and action, nothing else.
CREATE TABLE enforcement_counts (
    month  TEXT NOT NULL,
    action TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (month, action)
);
