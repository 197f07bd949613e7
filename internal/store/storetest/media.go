package storetest

import (
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// mediaCases: upload records and who may see them (internal/media).
var mediaCases = []testCase{
	{"media records are found, listed per owner and in pages, and orphans are found", testMedia},
}

func testMedia(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "late", "out")
	md := func(id, owner, meta string, at time.Time) store.MediaRecord {
		return store.MediaRecord{ID: id, OwnerID: owner, Kind: "image", Mime: "image/png", Size: 42, Meta: meta, CreatedAt: at}
	}
	old := now.Add(-48 * time.Hour)
	all := []store.MediaRecord{
		md("m1", "a", `{}`, old),                // in a message
		md("m2", "a", `{}`, old.Add(time.Hour)), // in a post
		md("m3", "a", `{"avatar":true}`, old),   // an avatar
		md("m4", "b", `{}`, old),                // nothing: an orphan
		md("m5", "b", `{}`, now),                // nothing, but new
	}
	write(t, db, "CreateMedia", func(q *store.Queries) error {
		for _, m := range all {
			if err := q.CreateMedia(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	chat(t, db, "c", 1, "a", "b")
	write(t, db, "a message with m1, and a post with m2", func(q *store.Queries) error {
		if err := q.AddMember(ctx, member("c", "late", "member", 2)); err != nil {
			return err
		}
		seq, err := q.NextSeq(ctx, "c", now)
		if err != nil {
			return err
		}
		if err := q.InsertMessage(ctx, store.MessageRecord{ConvID: "c", Seq: seq, ID: "pic", SenderID: "a", ClientID: "pic", Kind: "image",
			MediaID: sql.NullString{String: "m1", Valid: true}, SentAt: now}); err != nil {
			return err
		}
		return q.CreateMoment(ctx, store.MomentRecord{ID: "p", AuthorID: "a", Body: []byte("x"), Visibility: "friends", CreatedAt: now, MediaIDs: []string{"m2"}})
	})
	want(t, "FindMedia(m3)", res(db.Read().FindMedia(ctx, "m3")).must(t, "FindMedia"), all[2])
	res(db.Read().FindMedia(ctx, "nope")).notFound(t, "FindMedia(nope)")
	for _, tc := range []struct {
		viewer string
		want   bool
	}{{"b", true}, {"late", false}, {"out", false}} {
		if got := res(db.Read().CanSeeMediaInChats(ctx, "m1", tc.viewer)).must(t, "CanSeeMediaInChats"); got != tc.want {
			t.Errorf("CanSeeMediaInChats(m1, %s) = %v, want %v", tc.viewer, got, tc.want)
		}
	}
	if !res(db.Read().MediaInMessages(ctx, "m1")).must(t, "MediaInMessages") || res(db.Read().MediaInMessages(ctx, "m2")).must(t, "MediaInMessages") {
		t.Error("MediaInMessages is not true for m1 alone")
	}
	var ids []string
	for _, m := range res(db.Read().MediaOf(ctx, "a")).must(t, "MediaOf") {
		ids = append(ids, m.ID)
	}
	want(t, "MediaOf(a), oldest first", ids, []string{"m1", "m3", "m2"})
	byID := res(db.Read().MediaByIDs(ctx, []string{"m4", "m9"})).must(t, "MediaByIDs")
	want(t, "MediaByIDs(m4, m9)", byID, map[string]store.MediaRecord{"m4": all[3]})
	owned := res(db.Read().OwnedMediaIDs(ctx, "b", 10)).must(t, "OwnedMediaIDs")
	slices.Sort(owned)
	want(t, "OwnedMediaIDs(b)", owned, []string{"m4", "m5"})
	if got := res(db.Read().OwnedMediaIDs(ctx, "a", 2)).must(t, "OwnedMediaIDs"); len(got) != 2 {
		t.Errorf("OwnedMediaIDs(a, 2) = %v, want 2", got)
	}
	want(t, "AllMediaIDs after m2, 2", res(db.Read().AllMediaIDs(ctx, "m2", 2)).must(t, "AllMediaIDs"), []string{"m3", "m4"})
	want(t, "AllMediaIDs after m4", res(db.Read().AllMediaIDs(ctx, "m4", 10)).must(t, "AllMediaIDs"), []string{"m5"})
	want(t, "OrphanMedia(a day ago)", res(db.Read().OrphanMedia(ctx, now.Add(-24*time.Hour), 10)).must(t, "OrphanMedia"), []string{"m4"})
	write(t, db, "DeleteMedia", func(q *store.Queries) error { return q.DeleteMedia(ctx, "m4") })
	res(db.Read().FindMedia(ctx, "m4")).notFound(t, "FindMedia after DeleteMedia")
}
