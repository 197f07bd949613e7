package store

import (
	"context"
	"database/sql"
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
// UnindexPurged, and reports how many it emptied. It is the first step of a
// destroyed sender's purge, the one B6's "purged" times (issue 17): one row
// update a message, where their search tokens are dozens of index rows a
// message, so the bodies go within a second or two of the destruction and
// the index follows. The partial index messages_sender_live keeps each
// batch from rescanning the emptied ones.
func (q *Queries) EmptyMessageBodies(ctx context.Context, senderID string, limit int) (int64, error) {
	return q.purgeBatch(ctx, senderID, limit,
		`sender_id = ? AND (body IS NOT NULL OR media_id IS NOT NULL)`, "message_mentions",
		`body = NULL, media_id = NULL, unindex_pending = TRUE`)
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
		if err := q.unindex(ctx, where, keys[:2*n]...); err != nil {
			return 0, err
		}
		if _, err := q.exec(ctx, `UPDATE messages SET unindex_pending = NULL WHERE `+where, keys[:2*n]...); err != nil {
			return 0, err
		}
		keys = keys[2*n:]
	}
	return done, nil
}

// purgeBatch picks up to limit of senderID's messages matching where,
// deletes their rows of table (keyed by conv_id, seq), and updates the
// messages with set; it reports how many messages it updated. Both must
// act on the same batch, or a message would be updated out of the batch
// while its rows stay, and never be picked again: PostgreSQL picks it once
// in one statement (a CTE referenced twice is evaluated once; without an
// ORDER BY two statements' LIMITs may pick different rows). On SQLite the
// same LIMIT query over the same index picks the same rows in the one
// writer's transaction, and the delete does not change what it reads.
func (q *Queries) purgeBatch(ctx context.Context, senderID string, limit int, where, table, set string) (int64, error) {
	var res sql.Result
	var err error
	if q.d.Name == "postgres" {
		res, err = q.exec(ctx, `WITH b AS (SELECT conv_id, seq FROM messages WHERE `+where+` LIMIT ?),
			d AS (DELETE FROM `+table+` t USING b WHERE t.conv_id = b.conv_id AND t.seq = b.seq)
			UPDATE messages m SET `+set+` FROM b WHERE m.conv_id = b.conv_id AND m.seq = b.seq`, senderID, limit)
	} else {
		batch := `SELECT conv_id, seq FROM messages WHERE ` + where + ` LIMIT ?`
		if _, err = q.exec(ctx, `DELETE FROM `+table+` WHERE (conv_id, seq) IN (`+batch+`)`, senderID, limit); err == nil {
			res, err = q.exec(ctx, `UPDATE messages SET `+set+` WHERE (conv_id, seq) IN (`+batch+`)`, senderID, limit)
		}
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// OwnedMediaIDs lists up to limit media ids a person owns.
func (q *Queries) OwnedMediaIDs(ctx context.Context, ownerID string, limit int) ([]string, error) {
	return q.strings(ctx, `SELECT id FROM media WHERE owner_id = ? LIMIT ?`, ownerID, limit)
}

// UserIDs calls fn for every user id, in pages (for the restore check).
func (q *Queries) UserIDs(ctx context.Context, after string, limit int) ([]string, error) {
	return q.strings(ctx, `SELECT id FROM users WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
}
