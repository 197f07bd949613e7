package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// callCases: live calls (internal/calls).
var callCases = []testCase{
	{"one live call per conversation, changed by compare-and-swap, found by who is in it", testCalls},
}

func testCalls(t *testing.T, db *store.DB) {
	call := func(id, conv string, participants, members []string) store.CallRecord {
		return store.CallRecord{ID: id, ConvID: conv, Doc: []byte(`{"state":"ringing"}`), Participants: participants, Members: members, UpdatedAt: now}
	}
	write(t, db, "CreateCall", func(q *store.Queries) error {
		if err := q.CreateCall(ctx, call("k1", "c1", []string{"u1"}, []string{"u1", "u2", "u10"})); err != nil {
			return err
		}
		return q.CreateCall(ctx, call("k2", "c2", []string{"u10", "u3"}, []string{"u10", "u3"}))
	})
	wantCode(t, "a second call in c1", writeErr(db, func(q *store.Queries) error { return q.CreateCall(ctx, call("k3", "c1", []string{"u2"}, nil)) }), "call_in_progress")
	want(t, "FindCall(k1)", res(db.Read().FindCall(ctx, "k1")).must(t, "FindCall"),
		store.CallRecord{ID: "k1", ConvID: "c1", Doc: []byte(`{"state":"ringing"}`), Version: 1, UpdatedAt: now})
	res(db.Read().FindCall(ctx, "nope")).notFound(t, "FindCall(nope)")

	ids := func(rs []store.CallRecord) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		slices.Sort(out)
		return out
	}
	// u1 is not u10: ids are matched whole.
	want(t, "LiveCalls(u1)", ids(res(db.Read().LiveCalls(ctx, "u1")).must(t, "LiveCalls")), []string{"k1"})
	want(t, "LiveCalls(u10)", ids(res(db.Read().LiveCalls(ctx, "u10")).must(t, "LiveCalls")), []string{"k2"})
	want(t, "LiveCalls(everyone)", ids(res(db.Read().LiveCalls(ctx, "")).must(t, "LiveCalls")), []string{"k1", "k2"})
	want(t, "CallsOfMember(u2)", ids(res(db.Read().CallsOfMember(ctx, "u2")).must(t, "CallsOfMember")), []string{"k1"})
	want(t, "CallsOfMember(u10)", ids(res(db.Read().CallsOfMember(ctx, "u10")).must(t, "CallsOfMember")), []string{"k1", "k2"})

	// Two writers holding version 1: the first wins, the second must reread.
	joined := call("k1", "c1", []string{"u1", "u2"}, nil)
	joined.Doc, joined.UpdatedAt = []byte(`{"state":"active"}`), now.Add(time.Second)
	swap := func(r store.CallRecord, version int64) bool {
		t.Helper()
		var ok bool
		write(t, db, "UpdateCall", func(q *store.Queries) (err error) { ok, err = q.UpdateCall(ctx, r, version); return })
		return ok
	}
	if !swap(joined, 1) {
		t.Fatal("UpdateCall at the current version = false")
	}
	if swap(call("k1", "c1", []string{"u1"}, nil), 1) {
		t.Error("UpdateCall at a stale version = true")
	}
	got := res(db.Read().FindCall(ctx, "k1")).must(t, "FindCall")
	if got.Version != 2 || string(got.Doc) != `{"state":"active"}` || !got.UpdatedAt.Equal(now.Add(time.Second)) {
		t.Errorf("after one swap, k1 = %+v, want version 2, active", got)
	}
	want(t, "LiveCalls(u2) after u2 joined", ids(res(db.Read().LiveCalls(ctx, "u2")).must(t, "LiveCalls")), []string{"k1"})
	if !swap(joined, 2) {
		t.Error("UpdateCall at the new version = false")
	}
	write(t, db, "DeleteCall", func(q *store.Queries) error { return q.DeleteCall(ctx, "k1") })
	res(db.Read().FindCall(ctx, "k1")).notFound(t, "FindCall after DeleteCall")
	write(t, db, "a new call in c1 once the last ended", func(q *store.Queries) error { return q.CreateCall(ctx, call("k4", "c1", []string{"u1"}, nil)) })
}
