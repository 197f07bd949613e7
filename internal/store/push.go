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

// PushTarget is a push subscription of a member who has not received a
// message, and whether that member muted the conversation.
type PushTarget struct {
	PushSubscriptionRecord
	Muted bool
}

// pushTargetsChunk bounds the ids bound in one PushTargets statement, well
// under SQLite's and PostgreSQL's limits on parameters; a group (500 at
// most) takes one.
const pushTargetsChunk = 500

// PushTargets lists the push subscriptions of those of userIDs who are
// members of convID and none of whose devices acknowledged seq, each with
// whether the member muted the conversation: in one statement for up to 500
// people, however many have a subscription (issue 17: the push path asks
// only about people with no live socket, and then only this, before it
// knows anyone is left to push to). Order is not specified.
func (q *Queries) PushTargets(ctx context.Context, convID string, seq int64, userIDs []string) ([]PushTarget, error) {
	var out []PushTarget
	for len(userIDs) > 0 {
		n := min(len(userIDs), pushTargetsChunk)
		in, ids := inList(userIDs[:n])
		userIDs = userIDs[n:]
		rows, err := q.query(ctx, `SELECT p.user_id, p.device_idx, p.sealed, p.created_at, m.muted
			FROM members m JOIN push_subscriptions p ON p.user_id = m.user_id
			WHERE m.conv_id = ? AND m.received_seq < ? AND m.user_id IN `+in, append([]any{convID, seq}, ids...)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var t PushTarget
			var at int64
			if err := rows.Scan(&t.UserID, &t.DeviceIdx, &t.Sealed, &at, &t.Muted); err != nil {
				rows.Close()
				return nil, err
			}
			t.CreatedAt = fromMicros(at)
			out = append(out, t)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
