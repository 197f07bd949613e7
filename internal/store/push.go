package store

import (
	"context"
	"time"
)

// PushSubscriptionRecord is one device's sealed Web Push subscription.
type PushSubscriptionRecord struct {
	UserID    string
	DeviceIdx []byte
	Sealed    []byte
	CreatedAt time.Time
}

// PutPushSubscription sets a device's subscription.
func (q *Queries) PutPushSubscription(ctx context.Context, r PushSubscriptionRecord) error {
	_, err := q.exec(ctx, `INSERT INTO push_subscriptions (user_id, device_idx, sealed, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, device_idx) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at`,
		r.UserID, r.DeviceIdx, r.Sealed, micros(r.CreatedAt))
	return err
}

// DeletePushSubscription removes a device's subscription.
func (q *Queries) DeletePushSubscription(ctx context.Context, userID string, deviceIdx []byte) error {
	_, err := q.exec(ctx, `DELETE FROM push_subscriptions WHERE user_id = ? AND device_idx = ?`, userID, deviceIdx)
	return err
}

// PushSubscriptions lists a person's subscriptions.
func (q *Queries) PushSubscriptions(ctx context.Context, userID string) ([]PushSubscriptionRecord, error) {
	rows, err := q.query(ctx, `SELECT user_id, device_idx, sealed, created_at FROM push_subscriptions WHERE user_id = ?`, userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PushSubscriptionRecord
	for rows.Next() {
		var r PushSubscriptionRecord
		var at int64
		if err := rows.Scan(&r.UserID, &r.DeviceIdx, &r.Sealed, &at); err != nil {
			return nil, err
		}
		r.CreatedAt = fromMicros(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// UnreceivedMembers lists members of a conversation, other than except, for
// whom no device has acknowledged seq and who have not muted it.
func (q *Queries) UnreceivedMembers(ctx context.Context, convID string, seq int64, except string) ([]string, error) {
	return q.strings(ctx, `SELECT user_id FROM members WHERE conv_id = ? AND received_seq < ? AND muted = ? AND user_id <> ?`, convID, seq, false, except)
}
