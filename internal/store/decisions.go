package store

import (
	"context"
	"time"
)

// DecisionRecord is an automated decision that restricted someone (R-ADM-1).
// Details (inputs and reasons in words) are sealed with the person's key.
type DecisionRecord struct {
	ID, UserID, Rule, Outcome string
	Details                   []byte
	AppealID                  string
	CreatedAt                 time.Time
}

// AddDecision records a decision.
func (q *Queries) AddDecision(ctx context.Context, d DecisionRecord) error {
	_, err := q.exec(ctx, `INSERT INTO decisions (id, user_id, rule, outcome, details, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		d.ID, d.UserID, d.Rule, d.Outcome, d.Details, micros(d.CreatedAt))
	return err
}

const decisionCols = `id, user_id, rule, outcome, details, COALESCE(appeal_id, ''), created_at`

func scanDecision(sc interface{ Scan(...any) error }) (DecisionRecord, error) {
	var d DecisionRecord
	var at int64
	err := sc.Scan(&d.ID, &d.UserID, &d.Rule, &d.Outcome, &d.Details, &d.AppealID, &at)
	d.CreatedAt = fromMicros(at)
	return d, err
}

// Decisions lists a person's decisions, newest first.
func (q *Queries) Decisions(ctx context.Context, userID string, limit int) ([]DecisionRecord, error) {
	rows, err := q.query(ctx, `SELECT `+decisionCols+` FROM decisions WHERE user_id = ? ORDER BY created_at DESC LIMIT ?`, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DecisionRecord
	for rows.Next() {
		d, err := scanDecision(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// FindDecision returns one decision, or not_found.
func (q *Queries) FindDecision(ctx context.Context, id string) (DecisionRecord, error) {
	d, err := scanDecision(q.row(ctx, `SELECT `+decisionCols+` FROM decisions WHERE id = ?`, id))
	return d, notFound(err, "decision")
}

// SetAppeal links a decision to the rights request that appeals it.
func (q *Queries) SetAppeal(ctx context.Context, id, appealID string) error {
	_, err := q.exec(ctx, `UPDATE decisions SET appeal_id = ? WHERE id = ?`, appealID, id)
	return err
}

// KnownNetwork reports whether a person has logged in from a network before.
func (q *Queries) KnownNetwork(ctx context.Context, userID string, networkIdx []byte) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM known_networks WHERE user_id = ? AND network_idx = ?`, userID, networkIdx).Scan(&n)
	return n > 0, err
}

// RememberNetwork records a network a person logged in from.
func (q *Queries) RememberNetwork(ctx context.Context, userID string, networkIdx []byte, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO known_networks (user_id, network_idx, last_seen) VALUES (?, ?, ?)
		ON CONFLICT (user_id, network_idx) DO UPDATE SET last_seen = excluded.last_seen`, userID, networkIdx, micros(at))
	return err
}

// KnownDevice reports whether a person has a device record with that index.
func (q *Queries) KnownDevice(ctx context.Context, userID string, deviceIdx []byte) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM devices WHERE user_id = ? AND device_idx = ?`, userID, deviceIdx).Scan(&n)
	return n > 0, err
}

// LockUntil locks an account for logins until t (zero unlocks).
func (q *Queries) LockUntil(ctx context.Context, userID string, t time.Time) error {
	var v int64
	if !t.IsZero() {
		v = micros(t)
	}
	_, err := q.exec(ctx, `UPDATE users SET locked_until = ? WHERE id = ?`, v, userID)
	return err
}

// LockedUntil returns when an account's login lock ends (zero: not locked).
func (q *Queries) LockedUntil(ctx context.Context, userID string) (time.Time, error) {
	var v int64
	err := q.row(ctx, `SELECT locked_until FROM users WHERE id = ?`, userID).Scan(&v)
	if err != nil || v == 0 {
		return time.Time{}, notFound(err, "user")
	}
	return fromMicros(v), nil
}

// DeleteAllSessions ends every session of a person (freeze).
func (q *Queries) DeleteAllSessions(ctx context.Context, userID string) error {
	_, err := q.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	return err
}

// DeleteOtherSessions ends every session of a person but one.
func (q *Queries) DeleteOtherSessions(ctx context.Context, userID string, keep []byte) error {
	_, err := q.exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, userID, keep)
	return err
}
