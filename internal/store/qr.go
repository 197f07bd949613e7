package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tkesj/tkesj"
)

// FriendCodeRecord is a person's current "add me" QR code (R-QR-1). The
// token is not stored: TokenIdx is its keyed hash, Salt what it is derived from.
type FriendCodeRecord struct {
	UserID    string
	Salt      []byte
	TokenIdx  []byte
	CreatedAt time.Time
}

// CreateFriendCode stores a person's first code; when they have one already
// (a concurrent first request won), it does nothing.
func (q *Queries) CreateFriendCode(ctx context.Context, r FriendCodeRecord) error {
	_, err := q.exec(ctx, `INSERT INTO qr_friend_codes (user_id, salt, token_idx, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING`,
		r.UserID, r.Salt, r.TokenIdx, micros(r.CreatedAt))
	return err
}

// PutFriendCode stores a person's code, replacing the one before (a reset).
func (q *Queries) PutFriendCode(ctx context.Context, r FriendCodeRecord) error {
	_, err := q.exec(ctx, `INSERT INTO qr_friend_codes (user_id, salt, token_idx, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET salt = excluded.salt, token_idx = excluded.token_idx, created_at = excluded.created_at`,
		r.UserID, r.Salt, r.TokenIdx, micros(r.CreatedAt))
	return err
}

func scanFriendCode(sc interface{ Scan(...any) error }) (FriendCodeRecord, error) {
	var r FriendCodeRecord
	var c int64
	err := sc.Scan(&r.UserID, &r.Salt, &r.TokenIdx, &c)
	r.CreatedAt = fromMicros(c)
	return r, notFound(err, "qr code")
}

// FindFriendCode returns a person's code, or not_found when they have none yet.
func (q *Queries) FindFriendCode(ctx context.Context, userID string) (FriendCodeRecord, error) {
	return scanFriendCode(q.row(ctx, `SELECT user_id, salt, token_idx, created_at FROM qr_friend_codes WHERE user_id = ?`, userID))
}

// FindFriendCodeByToken returns the code whose token hashes to idx, or not_found.
func (q *Queries) FindFriendCodeByToken(ctx context.Context, idx []byte) (FriendCodeRecord, error) {
	return scanFriendCode(q.row(ctx, `SELECT user_id, salt, token_idx, created_at FROM qr_friend_codes WHERE token_idx = ?`, idx))
}

// Blocks reports whether userID blocks other (one direction only).
func (q *Queries) Blocks(ctx context.Context, userID, other string) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM blocks WHERE user_id = ? AND blocked_id = ?`, userID, other).Scan(&n)
	return n > 0, err
}

// GroupCodeRecord is a group's invitation QR code (R-QR-1).
type GroupCodeRecord struct {
	ID, ConvID, CreatorID string
	Salt, TokenIdx        []byte
	CreatedAt, ExpiresAt  time.Time
	RevokedAt             sql.NullTime
}

// CreateGroupCode stores a new group code.
func (q *Queries) CreateGroupCode(ctx context.Context, r GroupCodeRecord) error {
	_, err := q.exec(ctx, `INSERT INTO qr_group_codes (id, conv_id, creator_id, salt, token_idx, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.ConvID, r.CreatorID, r.Salt, r.TokenIdx, micros(r.CreatedAt), micros(r.ExpiresAt))
	return err
}

const groupCodeCols = `id, conv_id, creator_id, salt, token_idx, created_at, expires_at, revoked_at`

func scanGroupCode(sc interface{ Scan(...any) error }) (GroupCodeRecord, error) {
	var r GroupCodeRecord
	var c, e int64
	var rv sql.NullInt64
	err := sc.Scan(&r.ID, &r.ConvID, &r.CreatorID, &r.Salt, &r.TokenIdx, &c, &e, &rv)
	r.CreatedAt, r.ExpiresAt = fromMicros(c), fromMicros(e)
	if rv.Valid {
		r.RevokedAt = sql.NullTime{Time: fromMicros(rv.Int64), Valid: true}
	}
	return r, notFound(err, "qr code")
}

// FindGroupCode returns a group's code by id, or not_found (also when the
// code belongs to another group).
func (q *Queries) FindGroupCode(ctx context.Context, convID, id string) (GroupCodeRecord, error) {
	return scanGroupCode(q.row(ctx, `SELECT `+groupCodeCols+` FROM qr_group_codes WHERE id = ? AND conv_id = ?`, id, convID))
}

// FindGroupCodeByToken returns the code whose token hashes to idx, or not_found.
func (q *Queries) FindGroupCodeByToken(ctx context.Context, idx []byte) (GroupCodeRecord, error) {
	return scanGroupCode(q.row(ctx, `SELECT `+groupCodeCols+` FROM qr_group_codes WHERE token_idx = ?`, idx))
}

// RevokeGroupCode marks a code revoked; revoking twice keeps the first time.
func (q *Queries) RevokeGroupCode(ctx context.Context, id string, at time.Time) error {
	_, err := q.exec(ctx, `UPDATE qr_group_codes SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, micros(at), id)
	return err
}

// DeleteGroupCodesExpiredBefore removes codes that expired before t (retention).
func (q *Queries) DeleteGroupCodesExpiredBefore(ctx context.Context, t time.Time) error {
	_, err := q.exec(ctx, `DELETE FROM qr_group_codes WHERE expires_at < ?`, micros(t))
	return err
}

// JoinApproval reports whether joining a group needs an owner's or admin's approval.
func (q *Queries) JoinApproval(ctx context.Context, convID string) (bool, error) {
	var on bool
	err := q.row(ctx, `SELECT join_approval FROM qr_group_settings WHERE conv_id = ?`, convID).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return on, err
}

// SetJoinApproval switches a group's join approval.
func (q *Queries) SetJoinApproval(ctx context.Context, convID string, on bool, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO qr_group_settings (conv_id, join_approval, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (conv_id) DO UPDATE SET join_approval = excluded.join_approval, updated_at = excluded.updated_at`, convID, on, micros(at))
	return err
}

// JoinRequestRecord is someone's request to join a group that needs approval.
type JoinRequestRecord struct {
	ID, ConvID, UserID string
	Status             string // pending, approved, declined
	CreatedAt          time.Time
}

// CreateJoinRequest stores a pending request; a pending one for the same
// person and group already there is a conflict (code join_request_pending).
func (q *Queries) CreateJoinRequest(ctx context.Context, r JoinRequestRecord) error {
	_, err := q.exec(ctx, `INSERT INTO qr_join_requests (id, conv_id, user_id, status, created_at) VALUES (?, ?, ?, ?, ?)`,
		r.ID, r.ConvID, r.UserID, r.Status, micros(r.CreatedAt))
	if err != nil && q.d.IsUnique(err) {
		return tkesj.Errorf(tkesj.EConflict, "join_request_pending", "a request to join this group is waiting for approval already")
	}
	return err
}

const joinRequestCols = `id, conv_id, user_id, status, created_at`

func scanJoinRequest(sc interface{ Scan(...any) error }) (JoinRequestRecord, error) {
	var r JoinRequestRecord
	var c int64
	err := sc.Scan(&r.ID, &r.ConvID, &r.UserID, &r.Status, &c)
	r.CreatedAt = fromMicros(c)
	return r, err
}

// FindJoinRequest returns a group's join request by id, or not_found.
func (q *Queries) FindJoinRequest(ctx context.Context, convID, id string) (JoinRequestRecord, error) {
	r, err := scanJoinRequest(q.row(ctx, `SELECT `+joinRequestCols+` FROM qr_join_requests WHERE id = ? AND conv_id = ?`, id, convID))
	return r, notFound(err, "join request")
}

// PendingJoinRequest returns userID's pending request to join convID, or not_found.
func (q *Queries) PendingJoinRequest(ctx context.Context, convID, userID string) (JoinRequestRecord, error) {
	r, err := scanJoinRequest(q.row(ctx, `SELECT `+joinRequestCols+` FROM qr_join_requests WHERE conv_id = ? AND user_id = ? AND status = 'pending'`, convID, userID))
	return r, notFound(err, "join request")
}

// PendingJoinRequests lists a group's pending join requests, oldest first.
func (q *Queries) PendingJoinRequests(ctx context.Context, convID string, limit int) ([]JoinRequestRecord, error) {
	rows, err := q.query(ctx, `SELECT `+joinRequestCols+` FROM qr_join_requests WHERE conv_id = ? AND status = 'pending' ORDER BY created_at, id LIMIT ?`, convID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []JoinRequestRecord
	for rows.Next() {
		r, err := scanJoinRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DecideJoinRequest moves a pending request to status; it reports whether
// the request was still pending.
func (q *Queries) DecideJoinRequest(ctx context.Context, id, status, by string, at time.Time) (bool, error) {
	res, err := q.exec(ctx, `UPDATE qr_join_requests SET status = ?, decided_by = ?, decided_at = ? WHERE id = ? AND status = 'pending'`,
		status, by, micros(at), id)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// LoginCodeRecord is a scan-to-login request from a web page (R-QR-2).
// Requester (the page's device and IP) is sealed with the request's own
// data key; TokenIdx and PollIdx are keyed hashes of the page's secrets.
type LoginCodeRecord struct {
	ID                string
	TokenIdx, PollIdx []byte
	Requester         []byte
	Status            string // pending, scanned, confirmed, collected, denied
	ScannerID         sql.NullString
	CreatedAt         time.Time
	ExpiresAt         time.Time
}

// CreateLoginCode stores a new request.
func (q *Queries) CreateLoginCode(ctx context.Context, r LoginCodeRecord) error {
	_, err := q.exec(ctx, `INSERT INTO qr_logins (id, token_idx, poll_idx, requester, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.TokenIdx, r.PollIdx, r.Requester, r.Status, micros(r.CreatedAt), micros(r.ExpiresAt))
	return err
}

const loginCodeCols = `id, token_idx, poll_idx, requester, status, scanner_id, created_at, expires_at`

func scanLoginCode(sc interface{ Scan(...any) error }) (LoginCodeRecord, error) {
	var r LoginCodeRecord
	var c, e int64
	err := sc.Scan(&r.ID, &r.TokenIdx, &r.PollIdx, &r.Requester, &r.Status, &r.ScannerID, &c, &e)
	r.CreatedAt, r.ExpiresAt = fromMicros(c), fromMicros(e)
	return r, notFound(err, "login request")
}

// FindLoginCode returns a request by id, or not_found.
func (q *Queries) FindLoginCode(ctx context.Context, id string) (LoginCodeRecord, error) {
	return scanLoginCode(q.row(ctx, `SELECT `+loginCodeCols+` FROM qr_logins WHERE id = ?`, id))
}

// FindLoginCodeByToken returns the request whose token hashes to idx, or not_found.
func (q *Queries) FindLoginCodeByToken(ctx context.Context, idx []byte) (LoginCodeRecord, error) {
	return scanLoginCode(q.row(ctx, `SELECT `+loginCodeCols+` FROM qr_logins WHERE token_idx = ?`, idx))
}

// MoveLoginCode changes a request's status from one state to another (and
// sets the scanner when scanner is not empty); it reports whether the
// request was in state from, so two racing callers cannot both move it.
func (q *Queries) MoveLoginCode(ctx context.Context, id, from, to, scanner string) (bool, error) {
	var res sql.Result
	var err error
	if scanner != "" {
		res, err = q.exec(ctx, `UPDATE qr_logins SET status = ?, scanner_id = ? WHERE id = ? AND status = ?`, to, scanner, id, from)
	} else {
		res, err = q.exec(ctx, `UPDATE qr_logins SET status = ? WHERE id = ? AND status = ?`, to, id, from)
	}
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ExpiredLoginCodes lists the ids of requests that expired before t.
func (q *Queries) ExpiredLoginCodes(ctx context.Context, t time.Time, limit int) ([]string, error) {
	return q.strings(ctx, `SELECT id FROM qr_logins WHERE expires_at < ? ORDER BY expires_at LIMIT ?`, micros(t), limit)
}

// DeleteLoginCode removes a request.
func (q *Queries) DeleteLoginCode(ctx context.Context, id string) error {
	_, err := q.exec(ctx, `DELETE FROM qr_logins WHERE id = ?`, id)
	return err
}
