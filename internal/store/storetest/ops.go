package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// opsCases: announcements, support tickets, operator state, statistics and
// the cessation's erasure (internal/compliance, operations).
var opsCases = []testCase{
	{"announcements list newest first", testAnnouncements},
	{"tickets list per person and per status, keep their messages in order and age out once closed", testTickets},
	{"operator state reads empty until set and then the last value", testServiceState},
	{"statistics count per UTC day and per kind from their start on", testStatistics},
	{"erasing every table but the kept ones empties children before parents", testEmptyTables},
}

func testAnnouncements(t *testing.T, db *store.DB) {
	write(t, db, "CreateAnnouncement", func(q *store.Queries) error {
		for i, id := range []string{"a1", "a2", "a3"} {
			if err := q.CreateAnnouncement(ctx, store.AnnouncementRecord{ID: id, Kind: "info", Title: "t" + id, Body: "b", CreatedAt: now.Add(time.Duration(i) * time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "Announcements(2)", res(db.Read().Announcements(ctx, 2)).must(t, "Announcements"), []store.AnnouncementRecord{
		{ID: "a3", Kind: "info", Title: "ta3", Body: "b", CreatedAt: now.Add(2 * time.Hour)},
		{ID: "a2", Kind: "info", Title: "ta2", Body: "b", CreatedAt: now.Add(time.Hour)},
	})
}

func testTickets(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	tk := func(id, u string, at time.Time) store.TicketRecord {
		return store.TicketRecord{ID: id, UserID: u, Kind: "support", Status: "open", Subject: []byte("sealed"), CreatedAt: at, UpdatedAt: at}
	}
	write(t, db, "CreateTicket", func(q *store.Queries) error {
		for _, r := range []store.TicketRecord{tk("t1", "a", now), tk("t2", "a", now.Add(time.Hour)), tk("t3", "b", now.Add(30*time.Minute))} {
			if err := q.CreateTicket(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "FindTicket(t1)", res(db.Read().FindTicket(ctx, "t1")).must(t, "FindTicket"), tk("t1", "a", now))
	res(db.Read().FindTicket(ctx, "nope")).notFound(t, "FindTicket(nope)")
	ids := func(ts []store.TicketRecord) []string {
		out := []string{}
		for _, r := range ts {
			out = append(out, r.ID)
		}
		return out
	}
	want(t, "TicketsOf(a)", ids(res(db.Read().TicketsOf(ctx, "a")).must(t, "TicketsOf")), []string{"t2", "t1"})
	write(t, db, "SetTicketStatus", func(q *store.Queries) error {
		if err := q.SetTicketStatus(ctx, "t1", "closed", now.Add(2*time.Hour), now.Add(2*time.Hour)); err != nil {
			return err
		}
		return q.SetTicketStatus(ctx, "t3", "closed", now.Add(3*time.Hour), now.Add(3*time.Hour))
	})
	if r := res(db.Read().FindTicket(ctx, "t1")).must(t, "FindTicket"); r.Status != "closed" || !r.ClosedAt.Equal(now.Add(2*time.Hour)) || !r.UpdatedAt.Equal(now.Add(2*time.Hour)) {
		t.Errorf("a closed ticket = %+v", r)
	}
	if r := res(db.Read().FindTicket(ctx, "t2")).must(t, "FindTicket"); !r.ClosedAt.IsZero() {
		t.Errorf("an open ticket has ClosedAt %v", r.ClosedAt)
	}
	want(t, "TicketsByStatus(closed), oldest change first", ids(res(db.Read().TicketsByStatus(ctx, "closed", 10)).must(t, "TicketsByStatus")), []string{"t1", "t3"})
	want(t, "TicketsByStatus(all, 2)", ids(res(db.Read().TicketsByStatus(ctx, "", 2)).must(t, "TicketsByStatus")), []string{"t2", "t1"})
	write(t, db, "AddTicketMessage", func(q *store.Queries) error {
		for _, m := range []store.TicketMessageRecord{
			{ID: "m2", TicketID: "t1", Author: "staff", StaffID: "s", Body: []byte("two"), CreatedAt: now.Add(time.Minute)},
			{ID: "m1", TicketID: "t1", Author: "user", Body: []byte("one"), CreatedAt: now},
		} {
			if err := q.AddTicketMessage(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "TicketMessages(t1)", res(db.Read().TicketMessages(ctx, "t1")).must(t, "TicketMessages"), []store.TicketMessageRecord{
		{ID: "m1", TicketID: "t1", Author: "user", Body: []byte("one"), CreatedAt: now},
		{ID: "m2", TicketID: "t1", Author: "staff", StaffID: "s", Body: []byte("two"), CreatedAt: now.Add(time.Minute)},
	})
	var n int64
	write(t, db, "DeleteClosedTickets", func(q *store.Queries) (err error) {
		n, err = q.DeleteClosedTickets(ctx, now.Add(3*time.Hour), 10)
		return
	})
	if n != 1 { // t1; t3 closed exactly at the cutoff; t2 is open
		t.Errorf("DeleteClosedTickets = %d, want 1", n)
	}
	res(db.Read().FindTicket(ctx, "t1")).notFound(t, "a ticket closed before the cutoff")
	if ms := res(db.Read().TicketMessages(ctx, "t1")).must(t, "TicketMessages"); len(ms) != 0 {
		t.Errorf("a deleted ticket's messages survived: %d", len(ms))
	}
	write(t, db, "DeleteClosedTickets, limit 0", func(q *store.Queries) (err error) {
		n, err = q.DeleteClosedTickets(ctx, now.Add(4*time.Hour), 0)
		return
	})
	if n != 0 {
		t.Errorf("DeleteClosedTickets with limit 0 = %d", n)
	}
}

func testServiceState(t *testing.T, db *store.DB) {
	if v, at, err := db.Read().ServiceState(ctx, "cessation"); v != "" || !at.IsZero() || err != nil {
		t.Errorf("ServiceState of an unset name = %q, %v, %v; want empty", v, at, err)
	}
	write(t, db, "SetServiceState", func(q *store.Queries) error {
		if err := q.SetServiceState(ctx, "cessation", "announced", now); err != nil {
			return err
		}
		return q.SetServiceState(ctx, "cessation", "ceasing", now.Add(time.Hour))
	})
	if v, at, err := db.Read().ServiceState(ctx, "cessation"); v != "ceasing" || !at.Equal(now.Add(time.Hour)) || err != nil {
		t.Errorf("ServiceState = %q, %v, %v; want ceasing at %v", v, at, err, now.Add(time.Hour))
	}
}

func testStatistics(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c", "d")
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	write(t, db, "activity", func(q *store.Queries) error {
		c := direct("c", "")
		c.Kind = "group"
		if err := q.CreateConversation(ctx, c); err != nil {
			return err
		}
		for _, m := range []struct {
			sender, kind string
			at           time.Time
		}{
			{"a", "text", day.Add(-time.Microsecond)}, // before the start
			{"a", "text", day},                        // the first instant counts
			{"a", "image", day.Add(23 * time.Hour)},
			{"b", "text", day.Add(25 * time.Hour)},
		} {
			seq, err := q.NextSeq(ctx, "c", m.at)
			if err != nil {
				return err
			}
			if err := q.InsertMessage(ctx, store.MessageRecord{ConvID: "c", Seq: seq, ID: fmt.Sprint("m", seq), SenderID: m.sender,
				ClientID: m.at.String(), Kind: m.kind, SentAt: m.at}); err != nil {
				return err
			}
		}
		for i, p := range []struct {
			author string
			at     time.Time
		}{{"c", day.Add(time.Hour)}, {"a", day.Add(26 * time.Hour)}, {"c", day.Add(27 * time.Hour)}} {
			if err := q.CreateMoment(ctx, store.MomentRecord{ID: fmt.Sprint("p", i), AuthorID: p.author, Body: []byte("x"), Visibility: "friends", CreatedAt: p.at}); err != nil {
				return err
			}
		}
		if err := q.UpsertDevice(ctx, device("d", "dev")); err != nil {
			return err
		}
		return q.CreateSession(ctx, store.SessionRecord{TokenHash: []byte("t"), UserID: "d", DeviceIdx: []byte("dev"), CreatedAt: now, LastSeenAt: day.Add(30 * time.Hour)})
	})
	// 27 Nov: a (messages), c (post); 28 Nov: b (message), a and c (posts), d (session).
	want(t, "ActivePerDay", res(db.Read().ActivePerDay(ctx, day)).must(t, "ActivePerDay"), []store.Count{{Key: "2026-11-27", N: 2}, {Key: "2026-11-28", N: 4}})
	want(t, "MessagesPerKind", res(db.Read().MessagesPerKind(ctx, day)).must(t, "MessagesPerKind"), []store.Count{{Key: "image", N: 1}, {Key: "text", N: 2}})
	want(t, "PostsPerDay", res(db.Read().PostsPerDay(ctx, day)).must(t, "PostsPerDay"), []store.Count{{Key: "2026-11-27", N: 1}, {Key: "2026-11-28", N: 2}})
	if got := res(db.Read().PostsPerDay(ctx, day.Add(48*time.Hour))).must(t, "PostsPerDay"); got == nil || len(got) != 0 {
		t.Errorf("PostsPerDay with nothing since = %v, want an empty list", got)
	}
}

func testEmptyTables(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	mustSession(t, db, "a", "d", "tok")
	chat(t, db, "c", 2, "a", "b")
	write(t, db, "kept rows", func(q *store.Queries) error {
		if err := q.AddFriendship(ctx, "a", "b", now); err != nil {
			return err
		}
		if err := q.PublishPolicy(ctx, tkesj.Policy{Version: "1", Text: "t", PublishedAt: now}); err != nil {
			return err
		}
		if err := q.SetServiceState(ctx, "cessation", "erasing", now); err != nil {
			return err
		}
		return q.AppendAudit(ctx, store.AuditRecord{ID: "e", ActorID: "s", Action: "erase", CreatedAt: now})
	})
	keep := []string{"schema_migrations", "policies", "audit_log", "service_state"}
	var emptied []string
	write(t, db, "EmptyTablesExcept", func(q *store.Queries) (err error) { emptied, err = q.EmptyTablesExcept(ctx, keep); return })
	for _, k := range keep {
		if slices.Contains(emptied, k) {
			t.Errorf("EmptyTablesExcept emptied the kept table %s", k)
		}
	}
	for _, e := range []string{"users", "devices", "sessions", "conversations", "members", "messages", "friends"} {
		if !slices.Contains(emptied, e) {
			t.Errorf("EmptyTablesExcept = %v, missing %s", emptied, e)
		}
	}
	if ids := res(db.Read().UserIDs(ctx, "", 10)).must(t, "UserIDs"); len(ids) != 0 {
		t.Errorf("users left after the erasure: %v", ids)
	}
	res(db.Read().FindConversation(ctx, "c")).notFound(t, "a conversation after the erasure")
	if _, err := db.Read().FindPolicy(ctx, "1"); err != nil {
		t.Errorf("the kept policy = %v", err)
	}
	if v, _, _ := db.Read().ServiceState(ctx, "cessation"); v != "erasing" {
		t.Errorf("the kept service state = %q", v)
	}
	if es := res(db.Read().Audit(ctx, store.AuditFilter{Limit: 10})).must(t, "Audit"); len(es) != 1 {
		t.Errorf("the kept audit log has %d entries, want 1", len(es))
	}
}
