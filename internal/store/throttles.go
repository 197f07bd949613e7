package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// HitThrottle counts one event for key at now and returns the count in the
// current window and when that window ends. A window that has ended starts
// afresh at 1. With sliding, every hit pushes the end to now+window (the
// count lasts until window has passed without a hit: failures); without, the
// window is fixed from its first hit (rates: so many an hour).
//
// One statement, so concurrent hits on any number of nodes each count once.
func (q *Queries) HitThrottle(ctx context.Context, key string, now time.Time, window time.Duration, sliding bool) (int, time.Time, error) {
	n, end := micros(now), micros(now.Add(window))
	keep := `CASE WHEN throttles.expires_at <= excluded.last_at THEN excluded.expires_at ELSE throttles.expires_at END`
	if sliding {
		keep = `excluded.expires_at`
	}
	var hits int
	var until int64
	err := q.row(ctx, `INSERT INTO throttles (key, hits, last_at, expires_at) VALUES (?, 1, ?, ?)
		ON CONFLICT (key) DO UPDATE SET
			hits = CASE WHEN throttles.expires_at <= excluded.last_at THEN 1 ELSE throttles.hits + 1 END,
			expires_at = `+keep+`,
			last_at = excluded.last_at
		RETURNING hits, expires_at`, key, n, end).Scan(&hits, &until)
	return hits, fromMicros(until), err
}

// Throttle returns key's count and last hit at now: 0 once its window ended.
func (q *Queries) Throttle(ctx context.Context, key string, now time.Time) (hits int, last time.Time, err error) {
	var at int64
	err = q.row(ctx, `SELECT hits, last_at FROM throttles WHERE key = ? AND expires_at > ?`, key, micros(now)).Scan(&hits, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	return hits, fromMicros(at), err
}

// ResetThrottle forgets key (a success clears its failures).
func (q *Queries) ResetThrottle(ctx context.Context, key string) error {
	_, err := q.exec(ctx, `DELETE FROM throttles WHERE key = ?`, key)
	return err
}

// PurgeThrottles deletes the counters whose windows ended before now.
func (q *Queries) PurgeThrottles(ctx context.Context, now time.Time) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM throttles WHERE expires_at <= ?`, micros(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
