package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// testThrottles: throttle counters count every hit once however many writers
// race (they stand for nodes), restart when their window ends, and are
// forgotten on reset (issue 14 items 2-3, 8; issue 18: shared by every node).
func testThrottles(t *testing.T, db *store.DB) {
	ctx := context.Background()
	hit := func(key string, at time.Time, sliding bool) (int, time.Time) {
		t.Helper()
		var n int
		var end time.Time
		err := db.Update(ctx, func(q *store.Queries) (err error) {
			n, end, err = q.HitThrottle(ctx, key, at, time.Hour, sliding)
			return err
		})
		if err != nil {
			t.Fatalf("HitThrottle(%s) = %v", key, err)
		}
		return n, end
	}
	if n, end := hit("fixed", now, false); n != 1 || !end.Equal(now.Add(time.Hour)) {
		t.Fatalf("first hit = %d until %v, want 1 until %v", n, end, now.Add(time.Hour))
	}
	if n, end := hit("fixed", now.Add(30*time.Minute), false); n != 2 || !end.Equal(now.Add(time.Hour)) {
		t.Errorf("a fixed window's second hit = %d until %v, want 2 until the first hit's hour", n, end)
	}
	if n, _ := hit("fixed", now.Add(61*time.Minute), false); n != 1 {
		t.Errorf("a hit after the window = %d, want 1 (a new window)", n)
	}
	hit("sliding", now, true)
	if n, end := hit("sliding", now.Add(50*time.Minute), true); n != 2 || !end.Equal(now.Add(110*time.Minute)) {
		t.Errorf("a sliding window's second hit = %d until %v, want 2 until an hour after it", n, end)
	}
	if n, last, err := db.Read().Throttle(ctx, "sliding", now.Add(100*time.Minute)); err != nil || n != 2 || !last.Equal(now.Add(50*time.Minute)) {
		t.Errorf("Throttle(sliding) = %d, %v, %v; want 2 last hit at +50 min", n, last, err)
	}
	if n, _, err := db.Read().Throttle(ctx, "sliding", now.Add(111*time.Minute)); err != nil || n != 0 {
		t.Errorf("Throttle after its window = %d, %v; want 0", n, err)
	}

	// Writers racing on one key, as nodes would, each count once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db.Update(ctx, func(q *store.Queries) error {
				_, _, err := q.HitThrottle(ctx, "raced", now, time.Hour, true)
				return err
			})
		}()
	}
	wg.Wait()
	if n, _, _ := db.Read().Throttle(ctx, "raced", now); n != 20 {
		t.Errorf("20 concurrent hits counted %d", n)
	}
	db.Update(ctx, func(q *store.Queries) error { return q.ResetThrottle(ctx, "raced") })
	if n, _, _ := db.Read().Throttle(ctx, "raced", now); n != 0 {
		t.Errorf("after ResetThrottle the count is %d, want 0", n)
	}
	var purged int64
	db.Update(ctx, func(q *store.Queries) (err error) {
		purged, err = q.PurgeThrottles(ctx, now.Add(3*time.Hour))
		return err
	})
	if purged != 2 {
		t.Errorf("PurgeThrottles = %d, want 2 (fixed and sliding)", purged)
	}
}
