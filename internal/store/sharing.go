package store

import (
	"context"
	"errors"
	"time"

	"github.com/tkesj/tkesj"
)

// RecipientRecord is a recipient personal data may be shared with (R-SHR-1).
// Categories is a comma-separated list.
type RecipientRecord struct {
	ID, Kind, Name, Purpose, Categories, Region string
	DeletionURL, DeliveryURL, Secret            string
	CreatedAt                                   time.Time
}

const recipientCols = `id, kind, name, purpose, categories, region, deletion_url, delivery_url, secret, created_at`

func scanRecipient(sc interface{ Scan(...any) error }) (RecipientRecord, error) {
	var r RecipientRecord
	var at int64
	err := sc.Scan(&r.ID, &r.Kind, &r.Name, &r.Purpose, &r.Categories, &r.Region, &r.DeletionURL, &r.DeliveryURL, &r.Secret, &at)
	r.CreatedAt = fromMicros(at)
	return r, err
}

// CreateRecipient adds a recipient to the registry (conflict when the name exists).
func (q *Queries) CreateRecipient(ctx context.Context, r RecipientRecord) error {
	// The name has no unique index, so the check below must not race with
	// another node's: on PostgreSQL each transaction sees only what was
	// committed when its statement began.
	if err := q.lock(ctx, "recipient name "+r.Name); err != nil {
		return err
	}
	n := 0
	if err := q.row(ctx, `SELECT COUNT(*) FROM recipients WHERE name = ?`, r.Name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return tkesj.Errorf(tkesj.EConflict, "recipient_exists", "a recipient with this name is registered already")
	}
	_, err := q.exec(ctx, `INSERT INTO recipients (`+recipientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Kind, r.Name, r.Purpose, r.Categories, r.Region, r.DeletionURL, r.DeliveryURL, r.Secret, micros(r.CreatedAt))
	return err
}

// FindRecipient returns one recipient, or not_found.
func (q *Queries) FindRecipient(ctx context.Context, id string) (RecipientRecord, error) {
	r, err := scanRecipient(q.row(ctx, `SELECT `+recipientCols+` FROM recipients WHERE id = ?`, id))
	return r, notFound(err, "recipient")
}

// Recipients lists the registry, oldest first.
func (q *Queries) Recipients(ctx context.Context) ([]RecipientRecord, error) {
	rows, err := q.query(ctx, `SELECT `+recipientCols+` FROM recipients ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []RecipientRecord{}
	for rows.Next() {
		r, err := scanRecipient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SharingRecord is one transfer to a recipient, or one refused transfer
// (Status "refused", with Refusal naming why). The deletion fields track the
// notice telling the recipient to delete what it got (R-SHR-3): DeletionAt
// is when it was asked for (zero: never), NotifiedAt the last attempt,
// AckedAt the recipient's 2xx answer.
type SharingRecord struct {
	ID, UserID, RecipientID, Purpose, Categories string
	Basis, Reference, Status, Refusal            string
	CreatedAt                                    time.Time
	DeletionReason                               string
	DeletionAt, NotifiedAt, AckedAt, NextAttempt time.Time
	Attempts                                     int
	LastError                                    string
}

const sharingCols = `id, user_id, recipient_id, purpose, categories, basis, reference, status, refusal, created_at,
	deletion_reason, deletion_at, notified_at, acked_at, attempts, next_attempt_at, last_error`

func optMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func optTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMicros(v)
}

func scanSharing(sc interface{ Scan(...any) error }) (SharingRecord, error) {
	var r SharingRecord
	var at, del, notified, acked, next int64
	err := sc.Scan(&r.ID, &r.UserID, &r.RecipientID, &r.Purpose, &r.Categories, &r.Basis, &r.Reference, &r.Status, &r.Refusal, &at,
		&r.DeletionReason, &del, &notified, &acked, &r.Attempts, &next, &r.LastError)
	r.CreatedAt, r.DeletionAt, r.NotifiedAt, r.AckedAt, r.NextAttempt = fromMicros(at), optTime(del), optTime(notified), optTime(acked), optTime(next)
	return r, err
}

func (q *Queries) sharingRecords(ctx context.Context, query string, args ...any) ([]SharingRecord, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []SharingRecord{}
	for rows.Next() {
		r, err := scanSharing(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CreateSharingRecord writes a transfer or a refusal.
func (q *Queries) CreateSharingRecord(ctx context.Context, r SharingRecord) error {
	_, err := q.exec(ctx, `INSERT INTO sharing_records (`+sharingCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.UserID, r.RecipientID, r.Purpose, r.Categories, r.Basis, r.Reference, r.Status, r.Refusal, micros(r.CreatedAt),
		r.DeletionReason, optMicros(r.DeletionAt), optMicros(r.NotifiedAt), optMicros(r.AckedAt), r.Attempts, optMicros(r.NextAttempt), r.LastError)
	return err
}

// SharingRecords lists a person's records, newest first.
func (q *Queries) SharingRecords(ctx context.Context, userID string, limit int) ([]SharingRecord, error) {
	return q.sharingRecords(ctx, `SELECT `+sharingCols+` FROM sharing_records WHERE user_id = ? ORDER BY created_at DESC, id LIMIT ?`, userID, limit)
}

// SharingRecordsByRecipient lists the records of one recipient (all of them
// when recipientID is empty), newest first.
func (q *Queries) SharingRecordsByRecipient(ctx context.Context, recipientID string, limit int) ([]SharingRecord, error) {
	if recipientID == "" {
		return q.sharingRecords(ctx, `SELECT `+sharingCols+` FROM sharing_records ORDER BY created_at DESC, id LIMIT ?`, limit)
	}
	return q.sharingRecords(ctx, `SELECT `+sharingCols+` FROM sharing_records WHERE recipient_id = ? ORDER BY created_at DESC, id LIMIT ?`, recipientID, limit)
}

// RequestDeletion marks every transfer of a person's data (to one recipient,
// or to all when recipientID is empty) whose deletion was not yet asked for:
// the notice worker tells each recipient. It returns how many it marked.
func (q *Queries) RequestDeletion(ctx context.Context, userID, recipientID, reason string, at time.Time) (int64, error) {
	query := `UPDATE sharing_records SET deletion_reason = ?, deletion_at = ?, next_attempt_at = ?
		WHERE user_id = ? AND status = 'sent' AND deletion_at = 0`
	args := []any{reason, micros(at), micros(at), userID}
	if recipientID != "" {
		query += ` AND recipient_id = ?`
		args = append(args, recipientID)
	}
	res, err := q.exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DeleteRefusedSharing deletes a person's refused-transfer records (with
// the account: nothing went anywhere, so nobody needs telling).
func (q *Queries) DeleteRefusedSharing(ctx context.Context, userID string) error {
	_, err := q.exec(ctx, `DELETE FROM sharing_records WHERE user_id = ? AND status = 'refused'`, userID)
	return err
}

// DueDeletionNotices lists records whose deletion notice is unacknowledged
// and due by now, oldest first.
func (q *Queries) DueDeletionNotices(ctx context.Context, now time.Time, limit int) ([]SharingRecord, error) {
	return q.sharingRecords(ctx, `SELECT `+sharingCols+` FROM sharing_records
		WHERE deletion_at > 0 AND acked_at = 0 AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`, micros(now), limit)
}

// NextDeletionNotice returns when the next unacknowledged notice is due, or
// the zero time when none waits.
func (q *Queries) NextDeletionNotice(ctx context.Context) (time.Time, error) {
	var v *int64
	err := q.row(ctx, `SELECT MIN(next_attempt_at) FROM sharing_records WHERE deletion_at > 0 AND acked_at = 0`).Scan(&v)
	if err != nil || v == nil {
		return time.Time{}, err
	}
	return fromMicros(*v), nil
}

// ClaimNotice takes the records of one deletion notice for this node until
// until, so that nodes sharing the store do not send it twice at once. It
// reports false, changing nothing, when another node took any of them first.
func (q *Queries) ClaimNotice(ctx context.Context, recs []SharingRecord, until time.Time) (bool, error) {
	for _, r := range recs {
		res, err := q.exec(ctx, `UPDATE sharing_records SET next_attempt_at = ? WHERE id = ? AND acked_at = 0 AND next_attempt_at = ?`,
			micros(until), r.ID, optMicros(r.NextAttempt))
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return false, errClaimed
		}
	}
	return true, nil
}

var errClaimed = errors.New("claimed by another node")

// IsClaimed reports whether err is ClaimNotice's "another node took it".
func IsClaimed(err error) bool { return errors.Is(err, errClaimed) }

// NoticeAttempted records one delivery attempt of a deletion notice for the
// given records: acknowledged (ackedAt set), or due again at next.
func (q *Queries) NoticeAttempted(ctx context.Context, ids []string, at, ackedAt, next time.Time, lastError string) error {
	for _, id := range ids {
		if _, err := q.exec(ctx, `UPDATE sharing_records SET notified_at = ?, acked_at = ?, next_attempt_at = ?, attempts = attempts + 1, last_error = ?
			WHERE id = ?`, micros(at), optMicros(ackedAt), optMicros(next), lastError, id); err != nil {
			return err
		}
	}
	return nil
}

// ForgetAckedDestroyed empties the user id of acknowledged records whose
// account no longer exists: what stays is that something went to whom, when
// and that its deletion was confirmed, about nobody.
func (q *Queries) ForgetAckedDestroyed(ctx context.Context) (int64, error) {
	res, err := q.exec(ctx, `UPDATE sharing_records SET user_id = '' WHERE user_id <> '' AND acked_at > 0
		AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = sharing_records.user_id)`)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// ShareLinkRecord is a public link to one post (R-SHR-4); only the token's
// hash is stored.
type ShareLinkRecord struct {
	TokenHash          []byte
	MomentID, AuthorID string
	CreatedAt          time.Time
}

// CreateShareLink stores a link.
func (q *Queries) CreateShareLink(ctx context.Context, l ShareLinkRecord) error {
	_, err := q.exec(ctx, `INSERT INTO share_links (token_hash, moment_id, author_id, created_at) VALUES (?, ?, ?, ?)`,
		l.TokenHash, l.MomentID, l.AuthorID, micros(l.CreatedAt))
	return err
}

// FindShareLink returns the link with this token hash, or not_found.
func (q *Queries) FindShareLink(ctx context.Context, tokenHash []byte) (ShareLinkRecord, error) {
	var l ShareLinkRecord
	var at int64
	err := q.row(ctx, `SELECT token_hash, moment_id, author_id, created_at FROM share_links WHERE token_hash = ?`, tokenHash).
		Scan(&l.TokenHash, &l.MomentID, &l.AuthorID, &at)
	l.CreatedAt = fromMicros(at)
	return l, notFound(err, "link")
}

// DeleteShareLinks revokes every link to a post and reports how many there were.
func (q *Queries) DeleteShareLinks(ctx context.Context, momentID string) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM share_links WHERE moment_id = ?`, momentID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
