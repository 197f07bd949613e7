package store

import (
	"context"
	"time"
)

// RightsRequestRecord is a request the self-service cannot meet (R-RGT-2).
// Details and Answer are sealed with the requester's key; Fingerprint is a
// keyed hash of kind and normalised details, to spot repeats.
type RightsRequestRecord struct {
	ID, UserID, Kind string
	Fingerprint      []byte
	Details          []byte
	Status           string // received, identity_verified, in_progress, done, refused
	Answer           []byte
	ReceivedAt       time.Time
	DueAt            time.Time
	VerifiedAt       time.Time // zero until verified
	UpdatedAt        time.Time
}

const rightsCols = `id, user_id, kind, fingerprint, details, status, answer, received_at, due_at, verified_at, updated_at`

func scanRights(sc interface{ Scan(...any) error }) (RightsRequestRecord, error) {
	var r RightsRequestRecord
	var rec, due, ver, up int64
	err := sc.Scan(&r.ID, &r.UserID, &r.Kind, &r.Fingerprint, &r.Details, &r.Status, &r.Answer, &rec, &due, &ver, &up)
	r.ReceivedAt, r.DueAt, r.UpdatedAt = fromMicros(rec), fromMicros(due), fromMicros(up)
	if ver != 0 {
		r.VerifiedAt = fromMicros(ver)
	}
	return r, err
}

// CreateRightsRequest stores a new request.
func (q *Queries) CreateRightsRequest(ctx context.Context, r RightsRequestRecord) error {
	_, err := q.exec(ctx, `INSERT INTO rights_requests (`+rightsCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.UserID, r.Kind, r.Fingerprint, r.Details, r.Status, r.Answer, micros(r.ReceivedAt), micros(r.DueAt), 0, micros(r.UpdatedAt))
	return err
}

// FindRightsRequest returns one request, or not_found.
func (q *Queries) FindRightsRequest(ctx context.Context, id string) (RightsRequestRecord, error) {
	r, err := scanRights(q.row(ctx, `SELECT `+rightsCols+` FROM rights_requests WHERE id = ?`, id))
	return r, notFound(err, "rights request")
}

// RightsRequestsOf lists a person's requests, newest first.
func (q *Queries) RightsRequestsOf(ctx context.Context, userID string) ([]RightsRequestRecord, error) {
	return q.rightsList(ctx, `SELECT `+rightsCols+` FROM rights_requests WHERE user_id = ? ORDER BY received_at DESC`, userID)
}

// OpenRightsRequests lists requests not yet done or refused, soonest due first.
func (q *Queries) OpenRightsRequests(ctx context.Context, limit int) ([]RightsRequestRecord, error) {
	return q.rightsList(ctx, `SELECT `+rightsCols+` FROM rights_requests WHERE status NOT IN ('done', 'refused') ORDER BY due_at LIMIT ?`, limit)
}

// LatestRepeat returns the newest request with the same fingerprint since
// since, or not_found.
func (q *Queries) LatestRepeat(ctx context.Context, userID string, fingerprint []byte, since time.Time) (RightsRequestRecord, error) {
	r, err := scanRights(q.row(ctx, `SELECT `+rightsCols+` FROM rights_requests WHERE user_id = ? AND fingerprint = ? AND received_at > ?
		ORDER BY received_at DESC LIMIT 1`, userID, fingerprint, micros(since)))
	return r, notFound(err, "rights request")
}

// UpdateRightsRequest moves a request on; answer may be nil (unchanged).
func (q *Queries) UpdateRightsRequest(ctx context.Context, id, status string, answer []byte, verifiedAt, at time.Time) error {
	var v int64
	if !verifiedAt.IsZero() {
		v = micros(verifiedAt)
	}
	// CAST: PostgreSQL would otherwise type the bare parameter as a 32-bit integer.
	_, err := q.exec(ctx, `UPDATE rights_requests SET status = ?, answer = COALESCE(?, answer),
		verified_at = CASE WHEN CAST(? AS BIGINT) > 0 THEN CAST(? AS BIGINT) ELSE verified_at END, updated_at = ? WHERE id = ?`, status, answer, v, v, micros(at), id)
	return err
}

func (q *Queries) rightsList(ctx context.Context, query string, args ...any) ([]RightsRequestRecord, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RightsRequestRecord
	for rows.Next() {
		r, err := scanRights(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
