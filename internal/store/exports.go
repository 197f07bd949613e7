package store

import (
	"context"
	"time"

	"github.com/tkesj/tkesj"
)

// ExportRecord is a personal-data export job (R-RGT-1). The archive is a blob
// sealed with the person's key; this row only says where the job stands.
// Zero times mean "not yet".
type ExportRecord struct {
	ID, UserID  string
	Status      string // pending, ready, failed
	CreatedAt   time.Time
	FinishedAt  time.Time
	ExpiresAt   time.Time
	HeartbeatAt time.Time
	Size        int64
	ErrorCode   string
	Purged      bool // the blob was deleted after it expired
}

// Export statuses.
const (
	ExportPending = "pending"
	ExportReady   = "ready"
	ExportFailed  = "failed"
)

func microsOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func timeOrZero(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMicros(v)
}

// CreateExport stores a new job. A person who already has a pending export
// gets a conflict with code export_pending (one at a time, on any node).
func (q *Queries) CreateExport(ctx context.Context, r ExportRecord) error {
	_, err := q.exec(ctx, `INSERT INTO exports (id, user_id, status, created_at, finished_at, expires_at, heartbeat_at, size, error_code, purged)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.UserID, r.Status, micros(r.CreatedAt), microsOrZero(r.FinishedAt), microsOrZero(r.ExpiresAt), microsOrZero(r.HeartbeatAt),
		r.Size, r.ErrorCode, r.Purged)
	if err != nil && q.d.IsUnique(err) {
		return tkesj.Errorf(tkesj.EConflict, "export_pending", "an export is being prepared already")
	}
	return err
}

const exportCols = `id, user_id, status, created_at, finished_at, expires_at, heartbeat_at, size, error_code, purged`

func scanExport(sc interface{ Scan(...any) error }) (ExportRecord, error) {
	var r ExportRecord
	var c, f, e, h int64
	err := sc.Scan(&r.ID, &r.UserID, &r.Status, &c, &f, &e, &h, &r.Size, &r.ErrorCode, &r.Purged)
	r.CreatedAt, r.FinishedAt, r.ExpiresAt, r.HeartbeatAt = fromMicros(c), timeOrZero(f), timeOrZero(e), timeOrZero(h)
	return r, err
}

// FindExport returns a job by id, or not_found. Callers check the owner.
func (q *Queries) FindExport(ctx context.Context, id string) (ExportRecord, error) {
	r, err := scanExport(q.row(ctx, `SELECT `+exportCols+` FROM exports WHERE id = ?`, id))
	return r, notFound(err, "export")
}

// Exports lists a person's jobs, newest first, at most limit.
func (q *Queries) Exports(ctx context.Context, userID string, limit int) ([]ExportRecord, error) {
	rows, err := q.query(ctx, `SELECT `+exportCols+` FROM exports WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ExportRecord{}
	for rows.Next() {
		r, err := scanExport(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// TouchExport records that the node building a pending job is alive.
func (q *Queries) TouchExport(ctx context.Context, id string, at time.Time) error {
	_, err := q.exec(ctx, `UPDATE exports SET heartbeat_at = ? WHERE id = ? AND status = 'pending'`, micros(at), id)
	return err
}

// FinishExport moves a pending job to ready or failed. It reports whether the
// job was still pending (it is not when it was failed as stale meanwhile, or
// when the account is gone).
func (q *Queries) FinishExport(ctx context.Context, r ExportRecord) (bool, error) {
	res, err := q.exec(ctx, `UPDATE exports SET status = ?, finished_at = ?, expires_at = ?, size = ?, error_code = ?
		WHERE id = ? AND status = 'pending'`, r.Status, microsOrZero(r.FinishedAt), microsOrZero(r.ExpiresAt), r.Size, r.ErrorCode, r.ID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// FailStaleExports marks failed, with code, the pending jobs whose heartbeat
// is older than before: the node building them died. userID limits it to one
// person ("" for everyone). It returns how many it failed.
func (q *Queries) FailStaleExports(ctx context.Context, userID string, before, at time.Time, code string) (int64, error) {
	query := `UPDATE exports SET status = 'failed', finished_at = ?, error_code = ? WHERE status = 'pending' AND heartbeat_at < ?`
	args := []any{micros(at), code, micros(before)}
	if userID != "" {
		query += ` AND user_id = ?`
		args = append(args, userID)
	}
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ExpiredExports lists ready jobs past their expiry whose blob is not purged yet.
func (q *Queries) ExpiredExports(ctx context.Context, now time.Time, limit int) ([]ExportRecord, error) {
	rows, err := q.query(ctx, `SELECT `+exportCols+` FROM exports WHERE status = 'ready' AND purged = ? AND expires_at < ? ORDER BY expires_at LIMIT ?`,
		false, micros(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ExportRecord
	for rows.Next() {
		r, err := scanExport(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkExportPurged records that an expired job's blob was deleted.
func (q *Queries) MarkExportPurged(ctx context.Context, id string) error {
	_, err := q.exec(ctx, `UPDATE exports SET purged = ? WHERE id = ?`, true, id)
	return err
}

// MediaOf lists the media a person uploaded (their avatar included), oldest first.
func (q *Queries) MediaOf(ctx context.Context, ownerID string) ([]MediaRecord, error) {
	return collect(ctx, q, scanMedia, `SELECT `+mediaCols+` FROM media WHERE owner_id = ? ORDER BY created_at, id`, ownerID)
}
