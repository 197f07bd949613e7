package store

import (
	"context"
	"time"
)

// DeleteIdleDevices removes devices unused since before, with their sessions.
func (q *Queries) DeleteIdleDevices(ctx context.Context, before time.Time) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM devices WHERE last_seen_at < ?`, micros(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// DevicesWithOldIPs lists up to limit devices whose login IP is older than
// before and not yet truncated.
func (q *Queries) DevicesWithOldIPs(ctx context.Context, before time.Time, limit int) ([]DeviceRecord, error) {
	return q.devices(ctx, `SELECT user_id, device_idx, sealed, created_at, last_seen_at FROM devices
		WHERE ip_truncated = 0 AND logged_in_at < ? LIMIT ?`, micros(before), limit)
}

// SetTruncatedDevice replaces a device's sealed record with one whose IP is truncated.
func (q *Queries) SetTruncatedDevice(ctx context.Context, userID string, deviceIdx, sealed []byte) error {
	_, err := q.exec(ctx, `UPDATE devices SET sealed = ?, ip_truncated = 1 WHERE user_id = ? AND device_idx = ?`, sealed, userID, deviceIdx)
	return err
}

// DeleteOldDecisions removes decisions recorded before a time.
func (q *Queries) DeleteOldDecisions(ctx context.Context, before time.Time) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM decisions WHERE created_at < ?`, micros(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// OrphanMedia lists up to limit uploads older than before that nothing
// carries: no message, no post, no favorite, and not an avatar.
func (q *Queries) OrphanMedia(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return q.strings(ctx, `SELECT id FROM media m WHERE m.created_at < ? AND m.meta NOT LIKE '%"avatar":true%'
		AND NOT EXISTS (SELECT 1 FROM messages WHERE media_id = m.id)
		AND NOT EXISTS (SELECT 1 FROM moment_media WHERE media_id = m.id)
		AND NOT EXISTS (SELECT 1 FROM favorite_media WHERE media_id = m.id)
		LIMIT ?`, micros(before), limit)
}
