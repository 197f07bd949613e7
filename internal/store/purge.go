package store

import (
	"context"
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

// EmptyMessageBodies drops the bodies of up to limit messages a person sent
// (their rows stay, so others see "message from a deleted account"), with
// their search-index rows, and reports how many it emptied. The partial
// index messages_sender_live keeps each batch from rescanning earlier ones.
func (q *Queries) EmptyMessageBodies(ctx context.Context, senderID string, limit int) (int64, error) {
	batch := `SELECT conv_id, seq FROM messages WHERE sender_id = ? AND (body IS NOT NULL OR media_id IS NOT NULL) LIMIT ?`
	if err := q.unindex(ctx, `(conv_id, seq) IN (`+batch+`)`, senderID, limit); err != nil {
		return 0, err
	}
	if _, err := q.exec(ctx, `DELETE FROM message_mentions WHERE (conv_id, seq) IN (`+batch+`)`, senderID, limit); err != nil {
		return 0, err
	}
	res, err := q.exec(ctx, `UPDATE messages SET body = NULL, media_id = NULL WHERE (conv_id, seq) IN (`+batch+`)`, senderID, limit)
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
