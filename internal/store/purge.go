package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// EnqueuePurge records that a destroyed person's leftovers must be purged.
func (q *Queries) EnqueuePurge(ctx context.Context, userID string, at time.Time) error {
	_, err := q.exec(ctx, `INSERT INTO purges (user_id, enqueued_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING`, userID, micros(at))
	return err
}

// Purges lists queued purges, oldest first.
func (q *Queries) Purges(ctx context.Context, limit int) ([]string, error) {
	return q.strings(ctx, `SELECT user_id FROM purges ORDER BY enqueued_at LIMIT ?`, limit)
}

// DonePurge removes a finished purge from the queue.
func (q *Queries) DonePurge(ctx context.Context, userID string) error {
	_, err := q.exec(ctx, `DELETE FROM purges WHERE user_id = ?`, userID)
	return err
}

// EmptyMessageBodies drops the bodies and media references of up to limit
// messages a person sent (their rows stay, so others see "message from a
// deleted account") with the mentions they made, marks them for
// UnindexPurged, and reports how many of their messages it went through
// (emptied, or found empty: recalled). It is the first step of a destroyed
// sender's purge, the one B6's "purged" times (issue 17): one row update a
// message, where their search tokens are dozens of index rows a message,
// so the bodies go within a second or two of the destruction and the index
// follows. It walks their messages in client-id order over the unique
// index messages_client and keeps its place in their purges row
// (bodies_after), in the same transaction: each batch starts after the
// last, never rescanning emptied rows, and a purge cut short carries on
// from there. (A partial index of the messages with a body did that
// before, at the price of one more page dirtied by every send.) Without a
// queued purge it starts from their first message each time. The cost:
// client-id order is not the rows' order on disk, so messages that sit
// together (a long burst, as B6 seeds them) are no longer emptied a page
// at a time; with random client ids such a burst of 100,000 took 3.1 CPU-s
// instead of 0.7, where messages spread among others' (the usual case)
// cost a page each in either order.
func (q *Queries) EmptyMessageBodies(ctx context.Context, senderID string, limit int) (int64, error) {
	var after sql.NullString
	if err := q.row(ctx, `SELECT bodies_after FROM purges WHERE user_id = ?`, senderID).Scan(&after); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	from, args := `sender_id = ?`, []any{senderID}
	if after.Valid {
		from, args = from+` AND client_id > ?`, append(args, after.String)
	}
	// The batch is the range up to its last client id: both statements
	// below act on exactly it, on PostgreSQL as on SQLite.
	var n int64
	var last sql.NullString
	if err := q.row(ctx, `SELECT COUNT(*), MAX(client_id) FROM (SELECT client_id FROM messages WHERE `+from+` ORDER BY client_id LIMIT ?) b`,
		append(args, limit)...).Scan(&n, &last); err != nil || n == 0 {
		return 0, err
	}
	batch, args := from+` AND client_id <= ?`, append(args, last.String)
	if _, err := q.exec(ctx, `DELETE FROM message_mentions WHERE (conv_id, seq) IN (SELECT conv_id, seq FROM messages WHERE `+batch+`)`, args...); err != nil {
		return 0, err
	}
	if _, err := q.exec(ctx, `UPDATE messages SET body = NULL, media_id = NULL, unindex_pending = TRUE WHERE `+batch+` AND (body IS NOT NULL OR media_id IS NOT NULL)`, args...); err != nil {
		return 0, err
	}
	if _, err := q.exec(ctx, `UPDATE purges SET bodies_after = ? WHERE user_id = ?`, last.String, senderID); err != nil {
		return 0, err
	}
	return n, nil
}

// UnindexPurged deletes the search-index rows of up to limit messages of a
// person that EmptyMessageBodies emptied (R-DEL-4), from the token lists
// kept for them (search_message_tokens: their tokens cannot be recomputed
// once the key is gone), clears their mark, and reports how many messages
// it un-indexed. The partial index messages_sender_unindex holds only the
// marked ones, so a batch never rescans the done ones, and a purge cut
// short carries on from the marks. The batch is read once and then acted
// on by its keys: on PostgreSQL two statements with the same LIMIT may
// pick different rows, and a mark cleared for a message whose rows stay
// would leave them for good.
func (q *Queries) UnindexPurged(ctx context.Context, senderID string, limit int) (int64, error) {
	rows, err := q.query(ctx, `SELECT conv_id, seq FROM messages WHERE sender_id = ? AND unindex_pending IS NOT NULL LIMIT ?`, senderID, limit)
	if err != nil {
		return 0, err
	}
	var keys []any
	for rows.Next() {
		var conv string
		var seq int64
		if err := rows.Scan(&conv, &seq); err != nil {
			rows.Close()
			return 0, err
		}
		keys = append(keys, conv, seq)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	done := int64(len(keys) / 2)
	for len(keys) > 0 {
		n := min(len(keys)/2, 200)
		where := `(conv_id = ? AND seq = ?)` + strings.Repeat(` OR (conv_id = ? AND seq = ?)`, n-1)
		if q.split {
			// SQLite: the index is in its own file; the marks become
			// requests to it, which the purge applies next (searchfile.go).
			if _, err := q.exec(ctx, `INSERT INTO search_unindex (conv_id, seq, floor) SELECT conv_id, seq, (SELECT COALESCE(MAX(rowid), 0) FROM messages) FROM messages WHERE `+where, keys[:2*n]...); err != nil {
				return 0, err
			}
		} else if err := q.unindex(ctx, where, keys[:2*n]...); err != nil {
			return 0, err
		}
		if _, err := q.exec(ctx, `UPDATE messages SET unindex_pending = NULL WHERE `+where, keys[:2*n]...); err != nil {
			return 0, err
		}
		keys = keys[2*n:]
	}
	return done, nil
}

// OwnedMediaIDs lists up to limit media ids a person owns.
func (q *Queries) OwnedMediaIDs(ctx context.Context, ownerID string, limit int) ([]string, error) {
	return q.strings(ctx, `SELECT id FROM media WHERE owner_id = ? LIMIT ?`, ownerID, limit)
}

// UserIDs calls fn for every user id, in pages (for the restore check).
func (q *Queries) UserIDs(ctx context.Context, after string, limit int) ([]string, error) {
	return q.strings(ctx, `SELECT id FROM users WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}
