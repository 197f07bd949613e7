package store

import (
	"context"
	"time"

	"github.com/tkesj/tkesj"
)

// FriendRecord is one direction of a friendship: UserID's view of FriendID.
// Remark is sealed with UserID's key (nil when none).
type FriendRecord struct {
	UserID, FriendID string
	Remark           []byte
	CreatedAt        time.Time
}

// FriendRequestRecord is a friend request; Greeting is sealed with FromID's key.
type FriendRequestRecord struct {
	ID, FromID, ToID string
	Greeting         []byte
	Status           string // pending, accepted, declined
	CreatedAt        time.Time
	ExpiresAt        time.Time
}

// AddFriendship makes a and b friends (both directions); a repeat is harmless.
func (q *Queries) AddFriendship(ctx context.Context, a, b string, at time.Time) error {
	for _, p := range [][2]string{{a, b}, {b, a}} {
		if _, err := q.exec(ctx, `INSERT INTO friends (user_id, friend_id, created_at) VALUES (?, ?, ?) ON CONFLICT (user_id, friend_id) DO NOTHING`,
			p[0], p[1], micros(at)); err != nil {
			return err
		}
	}
	return nil
}

// RemoveFriendship ends a friendship in both directions.
func (q *Queries) RemoveFriendship(ctx context.Context, a, b string) error {
	_, err := q.exec(ctx, `DELETE FROM friends WHERE (user_id = ? AND friend_id = ?) OR (user_id = ? AND friend_id = ?)`, a, b, b, a)
	return err
}

// AreFriends reports whether a counts b as a friend.
func (q *Queries) AreFriends(ctx context.Context, a, b string) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM friends WHERE user_id = ? AND friend_id = ?`, a, b).Scan(&n)
	return n > 0, err
}

// Friends lists a user's friends, oldest friendship first.
func (q *Queries) Friends(ctx context.Context, userID string) ([]FriendRecord, error) {
	rows, err := q.query(ctx, `SELECT user_id, friend_id, remark, created_at FROM friends WHERE user_id = ? ORDER BY created_at, friend_id`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FriendRecord
	for rows.Next() {
		var f FriendRecord
		var at int64
		if err := rows.Scan(&f.UserID, &f.FriendID, &f.Remark, &at); err != nil {
			return nil, err
		}
		f.CreatedAt = fromMicros(at)
		out = append(out, f)
	}
	return out, rows.Err()
}

// SetRemark sets the sealed remark userID gives friendID; not_found when they are not friends.
func (q *Queries) SetRemark(ctx context.Context, userID, friendID string, remark []byte) error {
	res, err := q.exec(ctx, `UPDATE friends SET remark = ? WHERE user_id = ? AND friend_id = ?`, remark, userID, friendID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tkesj.ErrNotFound("contact")
	}
	return nil
}

// CreateFriendRequest stores a request.
func (q *Queries) CreateFriendRequest(ctx context.Context, r FriendRequestRecord) error {
	_, err := q.exec(ctx, `INSERT INTO friend_requests (id, from_id, to_id, greeting, status, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.FromID, r.ToID, r.Greeting, r.Status, micros(r.CreatedAt), micros(r.ExpiresAt))
	return err
}

const requestCols = `id, from_id, to_id, greeting, status, created_at, expires_at`

func scanRequest(sc interface{ Scan(...any) error }) (FriendRequestRecord, error) {
	var r FriendRequestRecord
	var c, e int64
	err := sc.Scan(&r.ID, &r.FromID, &r.ToID, &r.Greeting, &r.Status, &c, &e)
	r.CreatedAt, r.ExpiresAt = fromMicros(c), fromMicros(e)
	return r, err
}

// FindFriendRequest returns a request by id, or not_found.
func (q *Queries) FindFriendRequest(ctx context.Context, id string) (FriendRequestRecord, error) {
	r, err := scanRequest(q.row(ctx, `SELECT `+requestCols+` FROM friend_requests WHERE id = ?`, id))
	return r, notFound(err, "friend request")
}

// PendingRequestBetween returns the newest pending request from one person to another, or not_found.
func (q *Queries) PendingRequestBetween(ctx context.Context, from, to string, now time.Time) (FriendRequestRecord, error) {
	r, err := scanRequest(q.row(ctx, `SELECT `+requestCols+` FROM friend_requests
		WHERE from_id = ? AND to_id = ? AND status = 'pending' AND expires_at > ? ORDER BY created_at DESC LIMIT 1`, from, to, micros(now)))
	return r, notFound(err, "friend request")
}

// FriendRequests lists requests to or from a user, newest first.
func (q *Queries) FriendRequests(ctx context.Context, userID string, limit int) ([]FriendRequestRecord, error) {
	rows, err := q.query(ctx, `SELECT `+requestCols+` FROM friend_requests WHERE to_id = ? OR from_id = ? ORDER BY created_at DESC LIMIT ?`, userID, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FriendRequestRecord
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetFriendRequestStatus moves a pending request to status; it reports
// whether the request was still pending.
func (q *Queries) SetFriendRequestStatus(ctx context.Context, id, status string) (bool, error) {
	res, err := q.exec(ctx, `UPDATE friend_requests SET status = ? WHERE id = ? AND status = 'pending'`, status, id)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// DeleteExpiredFriendRequests removes requests past their expiry (retention).
func (q *Queries) DeleteExpiredFriendRequests(ctx context.Context, now time.Time) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM friend_requests WHERE expires_at < ?`, micros(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Block records that userID blocks blockedID.
func (q *Queries) Block(ctx context.Context, userID, blockedID string, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO blocks (user_id, blocked_id, created_at) VALUES (?, ?, ?) ON CONFLICT (user_id, blocked_id) DO NOTHING`,
		userID, blockedID, micros(at))
	return err
}

// Unblock lifts a block.
func (q *Queries) Unblock(ctx context.Context, userID, blockedID string) error {
	_, err := q.exec(ctx, `DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?`, userID, blockedID)
	return err
}

// Blocked lists the ids userID blocks.
func (q *Queries) Blocked(ctx context.Context, userID string) ([]string, error) {
	return q.strings(ctx, `SELECT blocked_id FROM blocks WHERE user_id = ? ORDER BY created_at`, userID)
}

// EitherBlocks reports whether a blocks b or b blocks a.
func (q *Queries) EitherBlocks(ctx context.Context, a, b string) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM blocks WHERE (user_id = ? AND blocked_id = ?) OR (user_id = ? AND blocked_id = ?)`, a, b, b, a).Scan(&n)
	return n > 0, err
}

// Settings returns a user's settings document, or not_found when none is stored.
func (q *Queries) Settings(ctx context.Context, userID string) (string, error) {
	var doc string
	err := q.row(ctx, `SELECT doc FROM settings WHERE user_id = ?`, userID).Scan(&doc)
	return doc, notFound(err, "settings")
}

// PutSettings stores a user's settings document.
func (q *Queries) PutSettings(ctx context.Context, userID, doc string, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO settings (user_id, doc, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at`, userID, doc, micros(at))
	return err
}

func (q *Queries) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
