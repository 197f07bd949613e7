package store

import (
	"context"
	"database/sql"
	"time"
)

// ExpiredMessages lists up to limit messages whose disappearing timer ran
// out by now (R-MSG-10), oldest first. A message under an active legal hold
// (on its conversation or its sender) is left for the hold's release: it is
// hidden from every API meanwhile, as every expired message is.
func (q *Queries) ExpiredMessages(ctx context.Context, now time.Time, limit int) ([]MessageRecord, error) {
	return q.queryMessages(ctx, `SELECT `+prefixed("m.", messageCols)+` FROM messages m
		WHERE m.expires_at IS NOT NULL AND m.expires_at <= ?
		AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.status = 'active' AND (
			(h.subject_kind = 'conversation' AND h.subject_id = m.conv_id) OR (h.subject_kind = 'user' AND h.subject_id = m.sender_id)))
		ORDER BY m.expires_at LIMIT ?`, micros(now), limit)
}

// DeleteMessage deletes one message row with its index entries, mentions
// and deleted-for-me marks.
func (q *Queries) DeleteMessage(ctx context.Context, convID string, seq int64) error {
	// The row first: on PostgreSQL an indexer pass holding the message
	// (IndexMessages) is waited for here, so the deletes below see the
	// tokens it wrote.
	if _, err := q.exec(ctx, `DELETE FROM messages WHERE conv_id = ? AND seq = ?`, convID, seq); err != nil {
		return err
	}
	if err := q.UnindexMessage(ctx, convID, seq); err != nil {
		return err
	}
	for _, stmt := range []string{
		`DELETE FROM message_mentions WHERE conv_id = ? AND seq = ?`,
		`DELETE FROM hidden_messages WHERE conv_id = ? AND seq = ?`,
	} {
		if _, err := q.exec(ctx, stmt, convID, seq); err != nil {
			return err
		}
	}
	return nil
}

// MediaReferenced reports whether any message, post or favorite still
// carries an upload.
func (q *Queries) MediaReferenced(ctx context.Context, mediaID string) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT (SELECT COUNT(*) FROM messages WHERE media_id = ?) + (SELECT COUNT(*) FROM moment_media WHERE media_id = ?)
		+ (SELECT COUNT(*) FROM favorite_media WHERE media_id = ?)`, mediaID, mediaID, mediaID).Scan(&n)
	return n > 0, err
}

// Reclaim makes deleted rows' bytes leave the disk: on SQLite (which runs
// with secure_delete, so freed pages are zeroed) it checkpoints and
// truncates the write-ahead log that still holds their old versions. On
// PostgreSQL it does nothing: dead tuples go with (auto)vacuum.
func (db *DB) Reclaim(ctx context.Context) error {
	if db.d.Name != "sqlite" {
		return nil
	}
	var busy, logFrames, done sql.NullInt64
	if err := db.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done); err != nil {
		return err
	}
	if db.search != nil {
		return db.search.Reclaim(ctx) // the index file's log too
	}
	return nil
}
