package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

func mustUpdate(t *testing.T, db *store.DB, what string, fn func(q *store.Queries) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatalf("%s = %v", what, err)
	}
}

// runFanOuts runs every pending fan-out to the end in batches of limit, as
// the service's worker does, and fails after a bounded number of batches.
func runFanOuts(t *testing.T, db *store.DB, limit int) {
	t.Helper()
	ctx := context.Background()
	for round := 0; round < 1000; round++ {
		jobs, err := db.Read().FanOutJobs(ctx, time.Now(), 10)
		if err != nil {
			t.Fatalf("FanOutJobs = %v", err)
		}
		if len(jobs) == 0 {
			return
		}
		for _, j := range jobs {
			err := db.Update(ctx, func(q *store.Queries) (err error) {
				_, _, err = q.FanOutBatch(ctx, j, limit)
				return err
			})
			if err != nil {
				t.Fatalf("FanOutBatch(%+v) = %v", j, err)
			}
		}
	}
	t.Fatal("fan-outs did not finish in 1000 batches")
}

func refs(t *testing.T, db *store.DB, viewer string) string {
	t.Helper()
	ids, err := db.Read().TimelineRefs(context.Background(), viewer)
	if err != nil {
		t.Fatalf("TimelineRefs(%s) = %v", viewer, err)
	}
	return fmt.Sprint(ids)
}

// testTimelines: a post reaches, in batches, exactly the timelines its
// visibility, blocks, hiding and muting allow; a page read sees pending
// posts and backfills before the worker gets to them, with the facts the
// read-time rules need; edits, unfriending, backfills, deletion and the
// purge keep the references exact (issue 19).
func testTimelines(t *testing.T, db *store.DB) {
	ctx := context.Background()
	for _, id := range []string{"a", "f1", "f2", "f3", "f4", "f5", "s"} {
		mustCreate(t, db, user(id))
	}
	mustUpdate(t, db, "friendships and preferences", func(q *store.Queries) error {
		for _, f := range []string{"f1", "f2", "f3", "f4", "f5"} {
			if err := q.AddFriendship(ctx, "a", f, now); err != nil {
				return err
			}
		}
		if err := q.SetMomentPref(ctx, "a", "f2", "hide", true); err != nil {
			return err
		}
		if err := q.SetMomentPref(ctx, "f3", "a", "mute", true); err != nil {
			return err
		}
		return q.Block(ctx, "f4", "a", now) // a block without unfriending: the filter still holds
	})
	if n, err := db.Read().CountFriends(ctx, "a"); err != nil || n != 5 {
		t.Errorf("CountFriends(a) = %d, %v, want 5", n, err)
	}
	if got, err := db.Read().FriendsAmong(ctx, "f1", []string{"a", "f2", "s"}); err != nil || fmt.Sprint(got) != "[a]" {
		t.Errorf("FriendsAmong(f1) = %v, %v, want [a]", got, err)
	}
	post := func(id, vis string, at time.Time, audience ...string) {
		t.Helper()
		m := store.MomentRecord{ID: id, AuthorID: "a", Body: []byte("sealed"), Visibility: vis, CreatedAt: at, Audience: audience}
		mustUpdate(t, db, "CreateMoment "+id, func(q *store.Queries) error {
			if err := q.CreateMoment(ctx, m); err != nil {
				return err
			}
			if err := q.AddTimelineRef(ctx, "a", m); err != nil {
				return err
			}
			return q.EnqueuePostFanOut(ctx, id, "a", at)
		})
	}
	post("p1", "friends", now)
	post("p2", "only", now.Add(time.Second), "f1")

	// Before the worker runs, f1's page already holds both (pending posts).
	page, err := db.Read().Timeline(ctx, store.TimelineQuery{Viewer: "f1", Limit: 10})
	if err != nil || len(page) != 2 || page[0].ID != "p2" || !page[0].Listed || !page[0].Friends || page[1].ID != "p1" || page[1].Listed {
		t.Fatalf("f1's page before the fan-out = %+v, %v; want p2 (listed), p1", page, err)
	}
	page, err = db.Read().Timeline(ctx, store.TimelineQuery{Viewer: "f3", Limit: 10})
	if err != nil || len(page) != 2 || !page[0].Muted {
		t.Errorf("f3's candidates = %+v, %v; want both, marked muted", page, err)
	}
	if n, _ := db.Read().PendingFanOuts(ctx); n != 2 {
		t.Errorf("PendingFanOuts = %d, want 2", n)
	}

	runFanOuts(t, db, 2) // 5 friends in batches of 2: three batches each
	for _, tc := range []struct{ viewer, want string }{
		{"a", "[p2 p1]"}, {"f1", "[p2 p1]"}, {"f2", "[]"}, {"f3", "[]"}, {"f4", "[]"}, {"f5", "[p1]"}, {"s", "[]"},
	} {
		if got := refs(t, db, tc.viewer); got != tc.want {
			t.Errorf("after the fan-out, %s's timeline = %s, want %s", tc.viewer, got, tc.want)
		}
	}
	page, err = db.Read().Timeline(ctx, store.TimelineQuery{Viewer: "f1", Limit: 1})
	if err != nil || len(page) != 1 || page[0].ID != "p2" {
		t.Fatalf("f1's first page of 1 = %+v, %v", page, err)
	}
	page, err = db.Read().Timeline(ctx, store.TimelineQuery{Viewer: "f1", Limit: 1, BeforeAt: page[0].CreatedAt, BeforeID: page[0].ID})
	if err != nil || len(page) != 1 || page[0].ID != "p1" {
		t.Fatalf("f1's second page of 1 = %+v, %v", page, err)
	}

	// A narrowed visibility prunes; a widened one fans out again.
	mustUpdate(t, db, "narrow p1", func(q *store.Queries) error {
		if err := q.UpdateMomentVisibility(ctx, "p1", "except", []string{"f1"}); err != nil {
			return err
		}
		return q.PruneMomentRefs(ctx, "p1")
	})
	if got := refs(t, db, "f1") + refs(t, db, "f5") + refs(t, db, "a"); got != "[p2][p1][p2 p1]" {
		t.Errorf("after p1 excludes f1: f1, f5, a hold %s", got)
	}
	mustUpdate(t, db, "widen p1", func(q *store.Queries) error {
		if err := q.UpdateMomentVisibility(ctx, "p1", "friends", nil); err != nil {
			return err
		}
		return q.EnqueuePostFanOut(ctx, "p1", "a", now)
	})
	runFanOuts(t, db, 2)
	if got := refs(t, db, "f1"); got != "[p2 p1]" {
		t.Errorf("after p1 is widened again, f1 holds %s", got)
	}
	if err := db.Update(ctx, func(q *store.Queries) error { return q.UpdateMomentVisibility(ctx, "nope", "friends", nil) }); err == nil {
		t.Error("UpdateMomentVisibility of a missing post succeeded")
	}

	// A job restarted under a batch does not lose the restart.
	post("p3", "friends", now.Add(2*time.Second))
	jobs, err := db.Read().FanOutJobs(ctx, now, 10)
	if err != nil || len(jobs) != 1 || jobs[0].MomentID != "p3" || jobs[0].Kind != store.FanOutPost {
		t.Fatalf("FanOutJobs = %+v, %v", jobs, err)
	}
	mustUpdate(t, db, "one batch", func(q *store.Queries) error {
		j, n, err := q.FanOutBatch(ctx, jobs[0], 2)
		if err == nil && (n != 2 || j.AfterID == "") {
			t.Errorf("the first batch of 2 of 5 friends = %+v, covering %d", j, n)
		}
		return err
	})
	err = db.Update(ctx, func(q *store.Queries) error { _, _, err := q.FanOutBatch(ctx, jobs[0], 2); return err })
	if !errors.Is(err, store.ErrFanOutMoved) {
		t.Errorf("a batch from a stale cursor = %v, want ErrFanOutMoved", err)
	}
	// A leased job is left alone by other nodes until the lease runs out.
	lease := func(at time.Time) []store.FanOutJob {
		t.Helper()
		var got []store.FanOutJob
		mustUpdate(t, db, "LeaseFanOuts", func(q *store.Queries) (err error) {
			got, err = q.LeaseFanOuts(ctx, at, at.Add(30*time.Second), 10)
			return err
		})
		return got
	}
	if got := lease(now); len(got) != 1 || got[0].ID != jobs[0].ID || got[0].AfterID == "" {
		t.Errorf("LeaseFanOuts = %+v, want the p3 job with its cursor", got)
	}
	if got := lease(now.Add(time.Second)); len(got) != 0 {
		t.Errorf("LeaseFanOuts of a leased job = %+v, want none", got)
	}
	if listed, _ := db.Read().FanOutJobs(ctx, now.Add(time.Second), 10); len(listed) != 0 {
		t.Errorf("a leased job is listed: %+v", listed)
	}
	mustUpdate(t, db, "ReleaseFanOut", func(q *store.Queries) error { return q.ReleaseFanOuts(ctx, []int64{jobs[0].ID}) })
	if listed, _ := db.Read().FanOutJobs(ctx, now, 10); len(listed) != 1 {
		t.Errorf("a released job is not listed: %+v", listed)
	}
	runFanOuts(t, db, 2) // at time.Now(), long after the leases
	if got := refs(t, db, "f5"); got != "[p3 p1]" {
		t.Errorf("f5 holds %s, want [p3 p1]", got)
	}

	// Unfriending removes both directions; a new friendship backfills what
	// the rules allow.
	mustUpdate(t, db, "unfriend", func(q *store.Queries) error {
		if err := q.RemoveFriendship(ctx, "a", "f1"); err != nil {
			return err
		}
		if err := q.DeleteTimelineRefs(ctx, "f1", "a"); err != nil {
			return err
		}
		return q.DeleteTimelineRefs(ctx, "a", "f1")
	})
	if got := refs(t, db, "f1"); got != "[]" {
		t.Errorf("after unfriending, f1 holds %s", got)
	}
	mustUpdate(t, db, "narrow p3", func(q *store.Queries) error {
		return q.UpdateMomentVisibility(ctx, "p3", "except", []string{"f1"})
	})
	mustUpdate(t, db, "befriend again", func(q *store.Queries) error {
		if err := q.AddFriendship(ctx, "a", "f1", now); err != nil {
			return err
		}
		if err := q.EnqueueBackfill(ctx, "a", "f1", now); err != nil {
			return err
		}
		return q.EnqueueBackfill(ctx, "f1", "a", now) // f1 has no posts: nothing to do
	})
	if n, _ := db.Read().PendingFanOuts(ctx); n != 1 {
		t.Errorf("PendingFanOuts after befriending = %d, want 1 (no backfill of someone without posts)", n)
	}
	page, err = db.Read().Timeline(ctx, store.TimelineQuery{Viewer: "f1", Limit: 10})
	if err != nil || len(page) != 3 {
		t.Errorf("f1's candidates while the backfill is pending = %+v, %v; want all three", page, err)
	}
	runFanOuts(t, db, 2)
	if got := refs(t, db, "f1"); got != "[p2 p1]" {
		t.Errorf("after the backfill, f1 holds %s, want [p2 p1] (p3 excludes f1)", got)
	}

	// Deleting a post removes it everywhere; the purge removes both sides.
	mustUpdate(t, db, "delete p2", func(q *store.Queries) error {
		if err := q.DeleteMomentRefs(ctx, "p2"); err != nil {
			return err
		}
		return q.DeleteMoment(ctx, "p2")
	})
	if got := refs(t, db, "f1") + refs(t, db, "a"); got != "[p1][p3 p1]" {
		t.Errorf("after deleting p2, f1 and a hold %s", got)
	}
	mustUpdate(t, db, "a timeline of f5's", func(q *store.Queries) error {
		return q.AddTimelineRef(ctx, "a", store.MomentRecord{ID: "x", AuthorID: "f5", CreatedAt: now})
	})
	for i := 0; ; i++ {
		var n int64
		mustUpdate(t, db, "PurgeTimelines", func(q *store.Queries) (err error) { n, err = q.PurgeTimelines(ctx, "a", 2); return err })
		if n < 2 {
			break
		}
		if i > 10 {
			t.Fatal("PurgeTimelines does not finish")
		}
	}
	for _, v := range []string{"a", "f1", "f5"} {
		if ids, err := db.Read().TimelineRefs(ctx, v); err != nil || len(ids) != 0 {
			t.Errorf("after the purge, %s holds %v (%v)", v, ids, err)
		}
	}
	if jobs, _ := db.Read().FanOutJobs(ctx, now, 10); !slices.Equal(jobs, nil) {
		t.Errorf("after the purge, jobs = %+v", jobs)
	}
}
