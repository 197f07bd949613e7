package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// socialCases: contacts, friend requests, blocks and Moments (internal/social).
var socialCases = []testCase{
	{"friendships go both ways, carry a remark each side and end both ways", testFriends},
	{"friend requests list newest first, move once and expire", testFriendRequests},
	{"blocks are one-directional records read from either side", testBlocks},
	{"posts page newest first by author with their audience and media in order", testMoments},
	{"likes and comments read per post, oldest first, and go with the post", testLikesAndComments},
	{"hide and mute preferences are sets read from either side", testMomentPrefs},
	{"a relaxed update commits without waiting for the disk and leaves every other write durable", testRelaxedUpdate},
}

// testRelaxedUpdate: the Moments fan-out's transactions commit without
// waiting for the disk, so they never hold the one SQLite writer through an
// fsync that messages wait behind (issue 19); what they write is there, a
// failed one writes nothing, and every ordinary transaction after them is
// durable again (R-MSG-3: an acknowledged message survives a crash).
func testRelaxedUpdate(t *testing.T, db *store.DB) {
	ctx := context.Background()
	durability := func() string {
		t.Helper()
		var d string
		if err := db.Update(ctx, func(q *store.Queries) (err error) { d, err = q.CommitDurability(ctx); return err }); err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := durability(); d != "durable" {
		t.Fatalf("an ordinary write commits %s, want durable", d)
	}
	var inside string
	err := db.UpdateRelaxed(ctx, func(q *store.Queries) (err error) {
		if inside, err = q.CommitDurability(ctx); err != nil {
			return err
		}
		return q.PublishPolicy(ctx, tkesj.Policy{Version: "relaxed", Text: "kept", PublishedAt: now})
	})
	if err != nil || inside != "relaxed" {
		t.Fatalf("UpdateRelaxed = %v, committing %q; want nil, relaxed", err, inside)
	}
	if p, err := db.Read().FindPolicy(ctx, "relaxed"); err != nil || p.Text != "kept" {
		t.Errorf("a relaxed write reads back as %+v, %v", p, err)
	}
	if d := durability(); d != "durable" {
		t.Errorf("the write after a relaxed one commits %s, want durable", d)
	}
	failed := errors.New("fails")
	err = db.UpdateRelaxed(ctx, func(q *store.Queries) error {
		if err := q.PublishPolicy(ctx, tkesj.Policy{Version: "rolled-back", Text: "x", PublishedAt: now}); err != nil {
			return err
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Errorf("a failing relaxed update returned %v, want its error", err)
	}
	if _, err := db.Read().FindPolicy(ctx, "rolled-back"); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("a failed relaxed update left its write: FindPolicy = %v", err)
	}
	if d := durability(); d != "durable" {
		t.Errorf("the write after a failed relaxed one commits %s, want durable", d)
	}
}

func testFriends(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	write(t, db, "AddFriendship", func(q *store.Queries) error {
		if err := q.AddFriendship(ctx, "a", "c", now.Add(time.Hour)); err != nil {
			return err
		}
		if err := q.AddFriendship(ctx, "a", "b", now); err != nil {
			return err
		}
		return q.AddFriendship(ctx, "b", "a", now.Add(2*time.Hour)) // a repeat, either way round, is harmless
	})
	for _, p := range [][2]string{{"a", "b"}, {"b", "a"}, {"a", "c"}, {"c", "a"}} {
		if !res(db.Read().AreFriends(ctx, p[0], p[1])).must(t, "AreFriends") {
			t.Errorf("AreFriends(%s, %s) = false", p[0], p[1])
		}
	}
	if res(db.Read().AreFriends(ctx, "b", "c")).must(t, "AreFriends") {
		t.Error("AreFriends(b, c) = true")
	}
	write(t, db, "SetRemark", func(q *store.Queries) error { return q.SetRemark(ctx, "a", "b", []byte("sealed remark")) })
	wantNotFound(t, "SetRemark on a non-friend", writeErr(db, func(q *store.Queries) error { return q.SetRemark(ctx, "b", "c", []byte("x")) }))
	want(t, "Friends(a)", res(db.Read().Friends(ctx, "a")).must(t, "Friends"), []store.FriendRecord{
		{UserID: "a", FriendID: "b", Remark: []byte("sealed remark"), CreatedAt: now},
		{UserID: "a", FriendID: "c", CreatedAt: now.Add(time.Hour)},
	})
	if fs := res(db.Read().Friends(ctx, "b")).must(t, "Friends"); len(fs) != 1 || fs[0].Remark != nil {
		t.Errorf("Friends(b) = %+v, want a, without a's remark", fs)
	}
	write(t, db, "RemoveFriendship", func(q *store.Queries) error { return q.RemoveFriendship(ctx, "b", "a") })
	if res(db.Read().AreFriends(ctx, "a", "b")).must(t, "AreFriends") || res(db.Read().AreFriends(ctx, "b", "a")).must(t, "AreFriends") {
		t.Error("after RemoveFriendship(b, a), a friendship direction survived")
	}
	write(t, db, "DeleteUser(c)", func(q *store.Queries) error { _, err := q.DeleteUser(ctx, "c"); return err })
	if fs := res(db.Read().Friends(ctx, "a")).must(t, "Friends"); len(fs) != 0 {
		t.Errorf("a deleted account is still a friend: %+v", fs)
	}
}

func testFriendRequests(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	fr := func(id, from, to string, at time.Time) store.FriendRequestRecord {
		return store.FriendRequestRecord{ID: id, FromID: from, ToID: to, Greeting: []byte("hi"), Status: "pending", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	}
	write(t, db, "CreateFriendRequest", func(q *store.Queries) error {
		for _, r := range []store.FriendRequestRecord{fr("r1", "a", "b", now), fr("r2", "a", "b", now.Add(time.Minute)), fr("r3", "c", "a", now.Add(2*time.Minute)), fr("r4", "b", "c", now)} {
			if err := q.CreateFriendRequest(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "FindFriendRequest(r1)", res(db.Read().FindFriendRequest(ctx, "r1")).must(t, "FindFriendRequest"), fr("r1", "a", "b", now))
	res(db.Read().FindFriendRequest(ctx, "nope")).notFound(t, "FindFriendRequest(nope)")
	if r := res(db.Read().PendingRequestBetween(ctx, "a", "b", now.Add(2*time.Minute))).must(t, "PendingRequestBetween"); r.ID != "r2" {
		t.Errorf("PendingRequestBetween(a, b) = %s, want the newest, r2", r.ID)
	}
	res(db.Read().PendingRequestBetween(ctx, "b", "a", now)).notFound(t, "PendingRequestBetween the other way")
	// r2 expires at now+61m: at that instant it is no longer pending (expires_at > now).
	res(db.Read().PendingRequestBetween(ctx, "a", "b", now.Add(61*time.Minute))).notFound(t, "PendingRequestBetween at the expiry")
	var ids []string
	for _, r := range res(db.Read().FriendRequests(ctx, "a", 10)).must(t, "FriendRequests") {
		ids = append(ids, r.ID)
	}
	want(t, "FriendRequests(a), to and from, newest first", ids, []string{"r3", "r2", "r1"})
	if got := res(db.Read().FriendRequests(ctx, "a", 1)).must(t, "FriendRequests"); len(got) != 1 {
		t.Errorf("FriendRequests with limit 1 = %d", len(got))
	}
	set := func(id, status string) bool {
		t.Helper()
		var ok bool
		write(t, db, "SetFriendRequestStatus", func(q *store.Queries) (err error) { ok, err = q.SetFriendRequestStatus(ctx, id, status); return })
		return ok
	}
	if !set("r2", "accepted") || set("r2", "declined") {
		t.Error("SetFriendRequestStatus twice did not answer true, then false")
	}
	if r := res(db.Read().FindFriendRequest(ctx, "r2")).must(t, "FindFriendRequest"); r.Status != "accepted" {
		t.Errorf("r2's status = %s, want the first decision, accepted", r.Status)
	}
	if r := res(db.Read().PendingRequestBetween(ctx, "a", "b", now)).must(t, "PendingRequestBetween"); r.ID != "r1" {
		t.Errorf("PendingRequestBetween after accepting r2 = %s, want r1", r.ID)
	}
	var n int64
	write(t, db, "DeleteExpiredFriendRequests", func(q *store.Queries) (err error) {
		n, err = q.DeleteExpiredFriendRequests(ctx, now.Add(61*time.Minute))
		return
	})
	if n != 2 { // r1 and r4 expired at now+1h; r2 expires exactly at the cutoff and stays
		t.Errorf("DeleteExpiredFriendRequests = %d, want 2", n)
	}
	if _, err := db.Read().FindFriendRequest(ctx, "r2"); err != nil {
		t.Errorf("a request expiring at the cutoff was deleted: %v", err)
	}
}

func testBlocks(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c", "d")
	write(t, db, "Block", func(q *store.Queries) error {
		if err := q.Block(ctx, "a", "c", now.Add(time.Minute)); err != nil {
			return err
		}
		if err := q.Block(ctx, "a", "b", now); err != nil {
			return err
		}
		if err := q.Block(ctx, "a", "b", now); err != nil { // a repeat is harmless
			return err
		}
		return q.Block(ctx, "d", "a", now)
	})
	want(t, "Blocked(a), oldest first", res(db.Read().Blocked(ctx, "a")).must(t, "Blocked"), []string{"b", "c"})
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"a", "b", true}, {"b", "a", true}, {"a", "d", true}, {"b", "c", false}} {
		if got := res(db.Read().EitherBlocks(ctx, tc.a, tc.b)).must(t, "EitherBlocks"); got != tc.want {
			t.Errorf("EitherBlocks(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	got := res(db.Read().BlocksOf(ctx, "a")).must(t, "BlocksOf")
	slices.Sort(got)
	want(t, "BlocksOf(a), both directions", got, []string{"b", "c", "d"})
	write(t, db, "Unblock", func(q *store.Queries) error { return q.Unblock(ctx, "a", "b") })
	if res(db.Read().EitherBlocks(ctx, "a", "b")).must(t, "EitherBlocks") {
		t.Error("EitherBlocks after Unblock = true")
	}
	want(t, "Blocked(a) after Unblock", res(db.Read().Blocked(ctx, "a")).must(t, "Blocked"), []string{"c"})
}

func testMoments(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	post := func(id, author string, at time.Time, media ...string) store.MomentRecord {
		return store.MomentRecord{ID: id, AuthorID: author, Body: []byte("sealed " + id), Visibility: "friends", CreatedAt: at, MediaIDs: media}
	}
	only := post("p2", "a", now, "m2", "m1", "m3")
	only.Visibility, only.Audience = "only", []string{"b", "c"}
	posts := []store.MomentRecord{post("p1", "a", now), only, post("p3", "b", now.Add(time.Minute)), post("p4", "c", now.Add(2*time.Minute)), post("p5", "a", now.Add(-time.Minute))}
	write(t, db, "CreateMoment", func(q *store.Queries) error {
		for _, m := range posts {
			if err := q.CreateMoment(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	got := res(db.Read().FindMoment(ctx, "p2")).must(t, "FindMoment")
	slices.Sort(got.Audience)
	want(t, "FindMoment(p2)", got, only)
	res(db.Read().FindMoment(ctx, "nope")).notFound(t, "FindMoment(nope)")

	page := func(p store.MomentPage) []string {
		t.Helper()
		var ids []string
		for _, m := range res(db.Read().Moments(ctx, p)).must(t, "Moments") {
			ids = append(ids, m.ID)
			if m.ID == "p2" && !slices.Equal(m.MediaIDs, []string{"m2", "m1", "m3"}) {
				t.Errorf("p2 in a page has media %v, want m2 m1 m3 in order", m.MediaIDs)
			}
		}
		return ids
	}
	// p1 and p2 share a time: the id breaks the tie.
	want(t, "Moments(a, b)", page(store.MomentPage{Authors: []string{"a", "b"}, Limit: 10}), []string{"p3", "p2", "p1", "p5"})
	want(t, "Moments(a, b) before p2", page(store.MomentPage{Authors: []string{"a", "b"}, BeforeAt: now, BeforeID: "p2", Limit: 10}), []string{"p1", "p5"})
	want(t, "Moments(a, b), 2", page(store.MomentPage{Authors: []string{"a", "b"}, Limit: 2}), []string{"p3", "p2"})
	want(t, "Moments of nobody", page(store.MomentPage{Limit: 10}), []string(nil))

	ms := []*store.MomentRecord{{ID: "p1"}, {ID: "p2"}}
	ok(t, "FillAudience", db.Read().FillAudience(ctx, ms))
	slices.Sort(ms[1].Audience)
	if ms[0].Audience != nil || !slices.Equal(ms[1].Audience, []string{"b", "c"}) {
		t.Errorf("FillAudience = %v, %v; want none for p1, b and c for p2", ms[0].Audience, ms[1].Audience)
	}
	want(t, "MomentsWithMedia(m1)", res(db.Read().MomentsWithMedia(ctx, "m1")).must(t, "MomentsWithMedia"), []string{"p2"})
	write(t, db, "DeleteMoment", func(q *store.Queries) error { return q.DeleteMoment(ctx, "p2") })
	res(db.Read().FindMoment(ctx, "p2")).notFound(t, "FindMoment after DeleteMoment")
	if got := res(db.Read().MomentsWithMedia(ctx, "m1")).must(t, "MomentsWithMedia"); len(got) != 0 {
		t.Errorf("a deleted post still carries media: %v", got)
	}
	write(t, db, "DeleteUser(c)", func(q *store.Queries) error { _, err := q.DeleteUser(ctx, "c"); return err })
	res(db.Read().FindMoment(ctx, "p4")).notFound(t, "a deleted account's post")
}

func testLikesAndComments(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	write(t, db, "posts, likes and comments", func(q *store.Queries) error {
		for _, id := range []string{"p1", "p2"} {
			if err := q.CreateMoment(ctx, store.MomentRecord{ID: id, AuthorID: "a", Body: []byte("x"), Visibility: "friends", CreatedAt: now}); err != nil {
				return err
			}
		}
		for _, l := range []struct {
			p, u string
			at   time.Duration
		}{{"p1", "c", 2}, {"p1", "b", 1}, {"p1", "b", 5}, {"p2", "c", 1}} {
			if err := q.Like(ctx, l.p, l.u, now.Add(l.at*time.Minute)); err != nil {
				return err
			}
		}
		for _, c := range []store.CommentRecord{
			{ID: "c2", MomentID: "p1", UserID: "c", Body: []byte("two"), CreatedAt: now.Add(2 * time.Minute)},
			{ID: "c1", MomentID: "p1", UserID: "b", Body: []byte("one"), CreatedAt: now.Add(time.Minute)},
			{ID: "c3", MomentID: "p1", UserID: "b", ReplyTo: "c", Body: []byte("three"), CreatedAt: now.Add(3 * time.Minute)},
			{ID: "c4", MomentID: "p2", UserID: "b", Body: []byte("four"), CreatedAt: now},
		} {
			if err := q.AddComment(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	likes := res(db.Read().LikesOf(ctx, []string{"p1", "p2", "p9"})).must(t, "LikesOf")
	want(t, "LikesOf(p1, p2, p9)", likes, map[string][]store.LikeRecord{
		"p1": {{MomentID: "p1", UserID: "b", CreatedAt: now.Add(time.Minute)}, {MomentID: "p1", UserID: "c", CreatedAt: now.Add(2 * time.Minute)}},
		"p2": {{MomentID: "p2", UserID: "c", CreatedAt: now.Add(time.Minute)}},
	})
	write(t, db, "Unlike", func(q *store.Queries) error { return q.Unlike(ctx, "p1", "b") })
	if l := res(db.Read().LikesOf(ctx, []string{"p1"})).must(t, "LikesOf")["p1"]; len(l) != 1 || l[0].UserID != "c" {
		t.Errorf("LikesOf(p1) after b unliked = %+v", l)
	}
	cs := res(db.Read().CommentsOf(ctx, []string{"p1"})).must(t, "CommentsOf")
	var ids []string
	for _, c := range cs["p1"] {
		ids = append(ids, c.ID)
	}
	want(t, "CommentsOf(p1)", ids, []string{"c1", "c2", "c3"})
	want(t, "FindComment(c3)", res(db.Read().FindComment(ctx, "c3")).must(t, "FindComment"),
		store.CommentRecord{ID: "c3", MomentID: "p1", UserID: "b", ReplyTo: "c", Body: []byte("three"), CreatedAt: now.Add(3 * time.Minute)})
	ids = nil
	for _, c := range res(db.Read().CommentsBy(ctx, "b")).must(t, "CommentsBy") {
		ids = append(ids, c.ID)
	}
	want(t, "CommentsBy(b)", ids, []string{"c4", "c1", "c3"})
	write(t, db, "DeleteComment", func(q *store.Queries) error { return q.DeleteComment(ctx, "c1") })
	res(db.Read().FindComment(ctx, "c1")).notFound(t, "FindComment after DeleteComment")
	write(t, db, "DeleteMoment(p1)", func(q *store.Queries) error { return q.DeleteMoment(ctx, "p1") })
	if l := res(db.Read().LikesOf(ctx, []string{"p1"})).must(t, "LikesOf"); len(l) != 0 {
		t.Errorf("likes survived their post: %+v", l)
	}
	res(db.Read().FindComment(ctx, "c3")).notFound(t, "a comment of a deleted post")
	write(t, db, "DeleteUser(b)", func(q *store.Queries) error { _, err := q.DeleteUser(ctx, "b"); return err })
	res(db.Read().FindComment(ctx, "c4")).notFound(t, "a deleted account's comment")
}

func testMomentPrefs(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	write(t, db, "SetMomentPref", func(q *store.Queries) error {
		for _, p := range []struct{ u, target, kind string }{{"a", "b", "hide"}, {"a", "b", "hide"}, {"c", "b", "hide"}, {"a", "c", "mute"}} {
			if err := q.SetMomentPref(ctx, p.u, p.target, p.kind, true); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "MomentPrefs(a, hide)", res(db.Read().MomentPrefs(ctx, "a", "hide")).must(t, "MomentPrefs"), []string{"b"})
	want(t, "MomentPrefs(a, mute)", res(db.Read().MomentPrefs(ctx, "a", "mute")).must(t, "MomentPrefs"), []string{"c"})
	hiders := res(db.Read().HidersOf(ctx, "b")).must(t, "HidersOf")
	slices.Sort(hiders)
	want(t, "HidersOf(b)", hiders, []string{"a", "c"})
	if got := res(db.Read().HidersOf(ctx, "c")).must(t, "HidersOf"); len(got) != 0 {
		t.Errorf("HidersOf(c) = %v: a mute is not a hide", got)
	}
	write(t, db, "SetMomentPref off", func(q *store.Queries) error { return q.SetMomentPref(ctx, "a", "b", "hide", false) })
	want(t, "HidersOf(b) after a's unhide", res(db.Read().HidersOf(ctx, "b")).must(t, "HidersOf"), []string{"c"})
}
