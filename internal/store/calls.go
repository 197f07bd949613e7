package store

import (
	"context"
	"time"

	"github.com/tkesj/tkesj"
)

// CallRecord is a live call: its state as a document the calls package
// owns, the ids of the people in it, and a version for compare-and-swap.
type CallRecord struct {
	ID, ConvID   string
	Doc          []byte
	Participants []string
	Members      []string
	Version      int64
	UpdatedAt    time.Time
}

func participantsKey(ids []string) string {
	k := "|"
	for _, id := range ids {
		k += id + "|"
	}
	return k
}

// CreateCall stores a new live call; a conversation with a live call
// already answers conflict (call_in_progress).
func (q *Queries) CreateCall(ctx context.Context, r CallRecord) error {
	_, err := q.exec(ctx, `INSERT INTO calls (id, conv_id, doc, participants, members, version, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?)`,
		r.ID, r.ConvID, r.Doc, participantsKey(r.Participants), participantsKey(r.Members), micros(r.UpdatedAt))
	if err != nil && q.d.IsUnique(err) {
		return tkesj.Errorf(tkesj.EConflict, "call_in_progress", "this conversation already has a call; join it instead")
	}
	return err
}

// FindCall returns a live call, or not_found.
func (q *Queries) FindCall(ctx context.Context, id string) (CallRecord, error) {
	var r CallRecord
	var at int64
	err := q.row(ctx, `SELECT id, conv_id, doc, version, updated_at FROM calls WHERE id = ?`, id).Scan(&r.ID, &r.ConvID, &r.Doc, &r.Version, &at)
	r.UpdatedAt = fromMicros(at)
	return r, notFound(err, "call")
}

// UpdateCall replaces a call whose version is still version and reports
// whether it did.
func (q *Queries) UpdateCall(ctx context.Context, r CallRecord, version int64) (bool, error) {
	res, err := q.exec(ctx, `UPDATE calls SET doc = ?, participants = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ?`,
		r.Doc, participantsKey(r.Participants), micros(r.UpdatedAt), r.ID, version)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// DeleteCall removes a call.
func (q *Queries) DeleteCall(ctx context.Context, id string) error {
	_, err := q.exec(ctx, `DELETE FROM calls WHERE id = ?`, id)
	return err
}

// LiveCalls lists live calls whose participants include userID, or every
// live call when userID is empty.
func (q *Queries) LiveCalls(ctx context.Context, userID string) ([]CallRecord, error) {
	pattern := "%"
	if userID != "" {
		pattern = "%|" + userID + "|%"
	}
	return q.calls(ctx, `SELECT id, conv_id, doc, version, updated_at FROM calls WHERE participants LIKE ?`, pattern)
}

// CallsOfMember lists the live calls of the conversations userID was in
// when each call began.
func (q *Queries) CallsOfMember(ctx context.Context, userID string) ([]CallRecord, error) {
	return q.calls(ctx, `SELECT id, conv_id, doc, version, updated_at FROM calls WHERE members LIKE ?`, "%|"+userID+"|%")
}

func (q *Queries) calls(ctx context.Context, query string, args ...any) ([]CallRecord, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CallRecord
	for rows.Next() {
		var r CallRecord
		var at int64
		if err := rows.Scan(&r.ID, &r.ConvID, &r.Doc, &r.Version, &at); err != nil {
			return nil, err
		}
		r.UpdatedAt = fromMicros(at)
		out = append(out, r)
	}
	return out, rows.Err()
}
