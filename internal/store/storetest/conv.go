package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// convWith makes a group conversation of members with n text messages
// from the first member.
func convWith(t *testing.T, db *store.DB, id string, n int, members ...string) {
	t.Helper()
	ctx := context.Background()
	mustUpdate(t, db, "make conversation "+id, func(q *store.Queries) error {
		if err := q.CreateConversation(ctx, store.ConversationRecord{ID: id, Kind: "group", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		for _, m := range members {
			if err := q.AddMember(ctx, store.MemberRecord{ConvID: id, UserID: m, Role: "member", JoinedAt: now}); err != nil {
				return err
			}
		}
		for i := 0; i < n; i++ {
			seq, err := q.NextSeq(ctx, id, now)
			if err != nil {
				return err
			}
			if err := q.InsertMessage(ctx, store.MessageRecord{ConvID: id, Seq: seq, ID: id + "-m" + string(rune('a'+i)), SenderID: members[0],
				ClientID: id + string(rune('a'+i)), Kind: "text", Body: []byte("sealed"), SentAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
}

// testPhoneChange: an account moves to a free phone index; a taken one is
// phone_taken and changes nothing (R-ACC-6).
func testPhoneChange(t *testing.T, db *store.DB) {
	ctx := context.Background()
	mustCreate(t, db, user("a"))
	mustCreate(t, db, user("b"))
	mustUpdate(t, db, "UpdateUserPhone(free)", func(q *store.Queries) error {
		return q.UpdateUserPhone(ctx, "a", []byte("p-new"), []byte("sealed-new"), now)
	})
	if got, err := db.Read().FindUserByPhoneIdx(ctx, []byte("p-new")); err != nil || got.ID != "a" || string(got.Profile) != "sealed-new" {
		t.Errorf("find by new phone = %+v, %v", got, err)
	}
	if _, err := db.Read().FindUserByPhoneIdx(ctx, []byte("p-a")); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("the old phone still finds someone: %v", err)
	}
	err := db.Update(ctx, func(q *store.Queries) error { return q.UpdateUserPhone(ctx, "a", []byte("p-b"), []byte("x"), now) })
	if tkesj.ErrorCode(err) != "phone_taken" {
		t.Errorf("UpdateUserPhone(taken) = %v, want phone_taken", err)
	}
}

// testMentions: mentions are found by the person named, mark unread chats,
// and go with recall and with the person (R-MSG-7).
func testMentions(t *testing.T, db *store.DB) {
	ctx := context.Background()
	for _, u := range []string{"a", "b", "c"} {
		mustCreate(t, db, user(u))
	}
	convWith(t, db, "g", 3, "a", "b", "c")
	mustUpdate(t, db, "AddMentions", func(q *store.Queries) error {
		if err := q.AddMentions(ctx, "g", 2, []string{"b", "c", "b"}); err != nil {
			return err
		}
		return q.AddMentions(ctx, "g", 3, []string{"b"})
	})
	if got, err := db.Read().MentionedUnread(ctx, "b"); err != nil || !slices.Equal(got, []string{"g"}) {
		t.Errorf("MentionedUnread(b) = %v, %v; want [g]", got, err)
	}
	if got, err := db.Read().MentionedUnread(ctx, "a"); err != nil || len(got) != 0 {
		t.Errorf("MentionedUnread(a) = %v, %v; want none", got, err)
	}
	ms, err := db.Read().MentionsOf(ctx, "b", 10)
	if err != nil || len(ms) != 2 {
		t.Fatalf("MentionsOf(b) = %d messages, %v; want 2", len(ms), err)
	}
	mustUpdate(t, db, "AdvanceRead", func(q *store.Queries) error { return q.AdvanceRead(ctx, "g", "b", 3) })
	if got, _ := db.Read().MentionedUnread(ctx, "b"); len(got) != 0 {
		t.Errorf("MentionedUnread(b) after reading = %v, want none", got)
	}
	mustUpdate(t, db, "DeleteMentions", func(q *store.Queries) error { return q.DeleteMentions(ctx, "g", 2) })
	if ms, _ := db.Read().MentionsOf(ctx, "b", 10); len(ms) != 1 || ms[0].Seq != 3 {
		t.Errorf("MentionsOf(b) after DeleteMentions = %v, want seq 3 only", ms)
	}
	mustUpdate(t, db, "DeleteUser", func(q *store.Queries) error { _, err := q.DeleteUser(ctx, "b"); return err })
	if ms, _ := db.Read().MentionsOf(ctx, "b", 10); len(ms) != 0 {
		t.Errorf("a destroyed person's mentions remain: %v", ms)
	}
}

// testPinsAndFavorites: pinned conversations list first, the latest pin on
// top; favorites are one's own, listed newest first, deleted with their
// media ids, and go with the person (R-MSG-9).
func testPinsAndFavorites(t *testing.T, db *store.DB) {
	ctx := context.Background()
	mustCreate(t, db, user("a"))
	mustCreate(t, db, user("b"))
	for _, c := range []string{"c1", "c2", "c3"} {
		convWith(t, db, c, 0, "a", "b")
	}
	mustUpdate(t, db, "SetPinned", func(q *store.Queries) error {
		if err := q.SetPinned(ctx, "c1", "a", now); err != nil {
			return err
		}
		return q.SetPinned(ctx, "c3", "a", now.Add(time.Second))
	})
	cs, ms, err := db.Read().ConversationsOf(ctx, "a")
	if err != nil || len(cs) != 3 || cs[0].ID != "c3" || cs[1].ID != "c1" || ms[2].PinnedAt != (time.Time{}) || !ms[0].PinnedAt.Equal(now.Add(time.Second)) {
		t.Errorf("ConversationsOf(a) = %v, %v; want c3, c1 pinned first", cs, err)
	}
	if m, _ := db.Read().FindMember(ctx, "c1", "b"); !m.PinnedAt.IsZero() {
		t.Errorf("b's membership is pinned too")
	}
	mustUpdate(t, db, "CreateFavorite", func(q *store.Queries) error {
		if err := q.CreateFavorite(ctx, store.FavoriteRecord{ID: "f1", UserID: "a", Sealed: []byte("x"), MediaIDs: []string{"m1", "m2"}, CreatedAt: now}); err != nil {
			return err
		}
		return q.CreateFavorite(ctx, store.FavoriteRecord{ID: "f2", UserID: "a", Sealed: []byte("y"), CreatedAt: now.Add(time.Second)})
	})
	if fs, err := db.Read().Favorites(ctx, "a"); err != nil || len(fs) != 2 || fs[0].ID != "f2" {
		t.Errorf("Favorites(a) = %v, %v; want f2, f1", fs, err)
	}
	if n, _ := db.Read().CountFavorites(ctx, "a"); n != 2 {
		t.Errorf("CountFavorites(a) = %d, want 2", n)
	}
	var media []string
	var found bool
	mustUpdate(t, db, "DeleteFavorite(b's)", func(q *store.Queries) (err error) { _, found, err = q.DeleteFavorite(ctx, "b", "f1"); return err })
	if found {
		t.Errorf("b deleted a's favorite")
	}
	mustUpdate(t, db, "DeleteFavorite", func(q *store.Queries) (err error) { media, found, err = q.DeleteFavorite(ctx, "a", "f1"); return err })
	slices.Sort(media)
	if !found || !slices.Equal(media, []string{"m1", "m2"}) {
		t.Errorf("DeleteFavorite = %v, %v; want its media m1, m2", media, found)
	}
	mustUpdate(t, db, "DeleteUser", func(q *store.Queries) error { _, err := q.DeleteUser(ctx, "a"); return err })
	if n, _ := db.Read().CountFavorites(ctx, "a"); n != 0 {
		t.Errorf("a destroyed person's favorites remain: %d", n)
	}
}

// convCases are issue 15's (conversation features) store cases.
var convCases = []testCase{
	{"an account moves to a free phone, never a taken one", testPhoneChange},
	{"mentions are found, marked, pushed and forgotten with their message and person", testMentions},
	{"pins order the chat list and favorites are one's own", testPinsAndFavorites},
	{"disappearing messages take the timer in force and are swept when due", testExpiry},
}

// testExpiry: the timer is read with the seq; due messages are listed
// (not held ones) and deleted with their index rows; media still carried
// elsewhere is known (R-MSG-10).
func testExpiry(t *testing.T, db *store.DB) {
	ctx := context.Background()
	mustCreate(t, db, user("a"))
	convWith(t, db, "c", 0, "a")
	mustUpdate(t, db, "SetDisappearing", func(q *store.Queries) error { return q.SetDisappearing(ctx, "c", 24*time.Hour) })
	if c, err := db.Read().FindConversation(ctx, "c"); err != nil || c.DisappearAfter != 24*time.Hour {
		t.Fatalf("FindConversation = %+v, %v; want a 24 h timer", c, err)
	}
	for i, exp := range []time.Time{now.Add(time.Hour), now.Add(2 * time.Hour), {}} {
		mustUpdate(t, db, "insert", func(q *store.Queries) error {
			seq, after, err := q.NextSeqTimer(ctx, "c", now)
			if err != nil || after != 24*time.Hour {
				t.Errorf("NextSeqTimer = %d, %v, %v; want the 24 h timer", seq, after, err)
			}
			m := store.MessageRecord{ConvID: "c", Seq: seq, ID: fmt.Sprint("e", i), SenderID: "a", ClientID: fmt.Sprint("e", i), Kind: "text", Body: []byte("x"), SentAt: now, ExpiresAt: exp}
			if i == 0 {
				m.MediaID = sql.NullString{String: "pic", Valid: true}
			}
			return q.InsertMessage(ctx, m)
		})
		mustUpdate(t, db.SearchIndex(), "index", func(q *store.Queries) error {
			return q.IndexMessage(ctx, "c", int64(i+1), [][]byte{[]byte("tok")})
		})
	}
	due, err := db.Read().ExpiredMessages(ctx, now.Add(90*time.Minute), 10)
	if err != nil || len(due) != 1 || due[0].Seq != 1 || !due[0].ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("ExpiredMessages = %+v, %v; want seq 1", due, err)
	}
	if used, err := db.Read().MediaReferenced(ctx, "pic"); err != nil || !used {
		t.Errorf("MediaReferenced(pic) = %v, %v; want true while its message is there", used, err)
	}
	mustUpdate(t, db, "DeleteMessage", func(q *store.Queries) error { return q.DeleteMessage(ctx, "c", 1) })
	if used, _ := db.Read().MediaReferenced(ctx, "pic"); used {
		t.Errorf("MediaReferenced(pic) after the delete = true")
	}
	if _, err := db.Read().FindMessage(ctx, "c", 1); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("FindMessage after DeleteMessage = %v, want not_found", err)
	}
	if err := db.Reclaim(ctx); err != nil {
		t.Errorf("Reclaim = %v", err)
	}
	live, _ := db.Read().Messages(ctx, store.MessageFilter{ConvID: "c", ViewerID: "a", Limit: 10, LiveAt: now.Add(3 * time.Hour)})
	if len(live) != 1 || live[0].Seq != 3 {
		t.Errorf("Messages live 3 h later = %v, want only the one without expiry", live)
	}
}
