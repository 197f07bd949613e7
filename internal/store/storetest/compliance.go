package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// complianceCases: exports, the purge, rights requests, sharing and share
// links, staff and audit, notices, incidents, legal holds and moderation
// (internal/compliance).
var complianceCases = []testCase{
	{"one pending export per person; stale ones fail; expired ones are purged once", testExports},
	{"the purge queue, emptied bodies and the user id pages", testPurge},
	{"rights requests list by person and due date, spot repeats and keep verification", testRightsRequests},
	{"recipients are unique by name; transfers are listed, marked for deletion and told once", testSharing},
	{"share links are found by token and revoked per post", testShareLinks},
	{"staff roles are replaced whole and the audit log filters by subject, visibility and actor", testStaffAndAudit},
	{"notices are read once, by their owner", testNotices},
	{"incidents keep their people", testIncidents},
	{"legal holds move pending, active, released and cover a person's conversations", testHolds},
	{"reports resolve once; restrictions end by time or lifting; enforcement counts add up", testModeration},
}

func testExports(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	ex := func(id, u string, at time.Time) store.ExportRecord {
		return store.ExportRecord{ID: id, UserID: u, Status: store.ExportPending, CreatedAt: at, HeartbeatAt: at}
	}
	write(t, db, "CreateExport", func(q *store.Queries) error {
		if err := q.CreateExport(ctx, ex("e1", "a", now)); err != nil {
			return err
		}
		return q.CreateExport(ctx, ex("b1", "b", now))
	})
	wantCode(t, "a second pending export", writeErr(db, func(q *store.Queries) error { return q.CreateExport(ctx, ex("e2", "a", now)) }), "export_pending")
	want(t, "FindExport(e1)", res(db.Read().FindExport(ctx, "e1")).must(t, "FindExport"), ex("e1", "a", now))
	res(db.Read().FindExport(ctx, "nope")).notFound(t, "FindExport(nope)")

	write(t, db, "TouchExport", func(q *store.Queries) error { return q.TouchExport(ctx, "e1", now.Add(time.Minute)) })
	var n int64
	write(t, db, "FailStaleExports(a)", func(q *store.Queries) (err error) {
		n, err = q.FailStaleExports(ctx, "a", now.Add(time.Minute), now.Add(2*time.Minute), "node_died")
		return
	})
	if n != 0 {
		t.Errorf("FailStaleExports failed %d jobs whose heartbeat is exactly the cutoff, want 0", n)
	}
	done := store.ExportRecord{ID: "e1", Status: store.ExportReady, FinishedAt: now.Add(3 * time.Minute), ExpiresAt: now.Add(time.Hour), Size: 99}
	var ok bool
	write(t, db, "FinishExport", func(q *store.Queries) (err error) { ok, err = q.FinishExport(ctx, done); return })
	if !ok {
		t.Fatal("FinishExport of a pending job = false")
	}
	write(t, db, "FinishExport again", func(q *store.Queries) (err error) { ok, err = q.FinishExport(ctx, done); return })
	if ok {
		t.Error("FinishExport of a finished job = true")
	}
	write(t, db, "FailStaleExports(all)", func(q *store.Queries) (err error) {
		n, err = q.FailStaleExports(ctx, "", now.Add(time.Hour), now.Add(time.Hour), "node_died")
		return
	})
	if n != 1 { // b1; e1 is no longer pending
		t.Errorf("FailStaleExports(everyone) = %d, want 1", n)
	}
	if b := res(db.Read().FindExport(ctx, "b1")).must(t, "FindExport"); b.Status != store.ExportFailed || b.ErrorCode != "node_died" || !b.FinishedAt.Equal(now.Add(time.Hour)) {
		t.Errorf("a stale export = %+v, want failed with node_died", b)
	}
	write(t, db, "a second export for a", func(q *store.Queries) error { return q.CreateExport(ctx, ex("e2", "a", now.Add(time.Minute))) })
	var ids []string
	for _, e := range res(db.Read().Exports(ctx, "a", 10)).must(t, "Exports") {
		ids = append(ids, e.ID+":"+e.Status)
	}
	want(t, "Exports(a)", ids, []string{"e2:pending", "e1:ready"})
	if got := res(db.Read().Exports(ctx, "a", 1)).must(t, "Exports"); len(got) != 1 {
		t.Errorf("Exports(a, 1) = %d", len(got))
	}
	if got := res(db.Read().ExpiredExports(ctx, now.Add(time.Hour), 10)).must(t, "ExpiredExports"); len(got) != 0 {
		t.Errorf("ExpiredExports at the expiry = %+v, want none (strictly after)", got)
	}
	exp := res(db.Read().ExpiredExports(ctx, now.Add(2*time.Hour), 10)).must(t, "ExpiredExports")
	if len(exp) != 1 || exp[0].ID != "e1" || exp[0].Size != 99 {
		t.Fatalf("ExpiredExports = %+v, want e1", exp)
	}
	write(t, db, "MarkExportPurged", func(q *store.Queries) error { return q.MarkExportPurged(ctx, "e1") })
	if got := res(db.Read().ExpiredExports(ctx, now.Add(2*time.Hour), 10)).must(t, "ExpiredExports"); len(got) != 0 {
		t.Errorf("ExpiredExports after purging = %+v", got)
	}
	if e := res(db.Read().FindExport(ctx, "e1")).must(t, "FindExport"); !e.Purged {
		t.Error("a purged export does not say so")
	}
}

func testPurge(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	write(t, db, "EnqueuePurge", func(q *store.Queries) error {
		if err := q.EnqueuePurge(ctx, "b", now.Add(time.Minute)); err != nil {
			return err
		}
		if err := q.EnqueuePurge(ctx, "a", now); err != nil {
			return err
		}
		return q.EnqueuePurge(ctx, "a", now.Add(time.Hour)) // a repeat keeps its place
	})
	want(t, "Purges", res(db.Read().Purges(ctx, 10)).must(t, "Purges"), []string{"a", "b"})
	if !res(db.Read().PurgeQueued(ctx, "a")).must(t, "PurgeQueued") || res(db.Read().PurgeQueued(ctx, "c")).must(t, "PurgeQueued") {
		t.Error("PurgeQueued is not true for a queued person alone")
	}
	write(t, db, "DonePurge", func(q *store.Queries) error { return q.DonePurge(ctx, "a") })
	want(t, "Purges after DonePurge(a)", res(db.Read().Purges(ctx, 10)).must(t, "Purges"), []string{"b"})

	chat(t, db, "c", 3, "a", "b")
	write(t, db, "b's message and the index", func(q *store.Queries) error {
		if err := send(nil, q, "c", "b", "from-b", now); err != nil {
			return err
		}
		if err := q.AddMentions(ctx, "c", 1, []string{"b"}); err != nil {
			return err
		}
		return q.AddMentions(ctx, "c", 4, []string{"a"})
	})
	write(t, db.SearchIndex(), "the index", func(q *store.Queries) error {
		for seq := int64(1); seq <= 4; seq++ {
			if err := q.IndexMessage(ctx, "c", seq, [][]byte{[]byte("w")}); err != nil {
				return err
			}
		}
		return nil
	})
	// R-DEL-2, issue 17: the bodies go first, in batches, with the mentions
	// a's messages made; their words stay indexed until UnindexPurged. Each
	// batch carries on where the last stopped, from a's queued purge.
	write(t, db, "EnqueuePurge(a) again", func(q *store.Queries) error { return q.EnqueuePurge(ctx, "a", now) })
	empty := func(limit int) int64 {
		t.Helper()
		var n int64
		write(t, db, "EmptyMessageBodies", func(q *store.Queries) (err error) { n, err = q.EmptyMessageBodies(ctx, "a", limit); return })
		return n
	}
	if n := empty(2); n != 2 {
		t.Errorf("EmptyMessageBodies(a, 2) = %d, want 2", n)
	}
	if n := empty(2); n != 1 {
		t.Errorf("the second batch = %d, want the 1 left", n)
	}
	if n := empty(2); n != 0 {
		t.Errorf("the third batch = %d, want 0", n)
	}
	for seq := int64(1); seq <= 3; seq++ {
		if m := res(db.Read().FindMessage(ctx, "c", seq)).must(t, "FindMessage"); m.Body != nil || m.SenderID != "a" {
			t.Errorf("a's message %d = %+v, want the row kept without its body", seq, m)
		}
	}
	if m := res(db.Read().FindMessage(ctx, "c", 4)).must(t, "FindMessage"); m.Body == nil {
		t.Error("emptying a's bodies emptied b's")
	}
	want(t, "mentions of b (a's mention of b went with its body)", seqs(res(db.Read().MentionsOf(ctx, "b", 10)).must(t, "MentionsOf")), []int64{})
	want(t, "mentions of a (b's message, kept)", seqs(res(db.Read().MentionsOf(ctx, "a", 10)).must(t, "MentionsOf")), []int64{4})
	got := seqs(res(db.Read().SearchMessages(ctx, "b", [][]byte{[]byte("w")}, 10)).must(t, "SearchMessages"))
	want(t, "search after emptying a's bodies, before un-indexing", len(got), 4)

	// R-DEL-4: then their words leave the index, in batches, and only theirs.
	unindex := func(limit int) int64 {
		t.Helper()
		var n int64
		write(t, db, "UnindexPurged", func(q *store.Queries) (err error) { n, err = q.UnindexPurged(ctx, "a", limit); return })
		applyUnindex(t, db) // SQLite's index file: the marks became requests
		return n
	}
	for i, wantN := range []int64{2, 1, 0} {
		if n := unindex(2); n != wantN {
			t.Errorf("UnindexPurged(a, 2) #%d = %d, want %d", i+1, n, wantN)
		}
	}
	got = seqs(res(db.Read().SearchMessages(ctx, "b", [][]byte{[]byte("w")}, 10)).must(t, "SearchMessages"))
	want(t, "search after un-indexing a's messages", got, []int64{4})
	// Another pass finds nothing left to do in either step.
	if n := empty(2); n != 0 {
		t.Errorf("emptying again = %d, want 0", n)
	}
	if n := unindex(2); n != 0 {
		t.Errorf("un-indexing again = %d, want 0", n)
	}

	want(t, "UserIDs after a, 1", res(db.Read().UserIDs(ctx, "a", 1)).must(t, "UserIDs"), []string{"b"})
	want(t, "UserIDs after nothing", res(db.Read().UserIDs(ctx, "", 10)).must(t, "UserIDs"), []string{"a", "b", "c"})
}

func testRightsRequests(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	rr := func(id, u, fp string, at time.Time, due time.Duration) store.RightsRequestRecord {
		return store.RightsRequestRecord{ID: id, UserID: u, Kind: "access", Fingerprint: []byte(fp), Details: []byte("sealed"), Status: "received",
			ReceivedAt: at, DueAt: at.Add(due), UpdatedAt: at}
	}
	r1, r2, r3 := rr("r1", "a", "f", now, 30*24*time.Hour), rr("r2", "a", "f", now.Add(time.Hour), 10*24*time.Hour), rr("r3", "b", "g", now, 20*24*time.Hour)
	write(t, db, "CreateRightsRequest", func(q *store.Queries) error {
		for _, r := range []store.RightsRequestRecord{r1, r2, r3} {
			if err := q.CreateRightsRequest(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "FindRightsRequest(r1)", res(db.Read().FindRightsRequest(ctx, "r1")).must(t, "FindRightsRequest"), r1)
	res(db.Read().FindRightsRequest(ctx, "nope")).notFound(t, "FindRightsRequest(nope)")
	var ids []string
	for _, r := range res(db.Read().RightsRequestsOf(ctx, "a")).must(t, "RightsRequestsOf") {
		ids = append(ids, r.ID)
	}
	want(t, "RightsRequestsOf(a)", ids, []string{"r2", "r1"})
	if r := res(db.Read().LatestRepeat(ctx, "a", []byte("f"), now)).must(t, "LatestRepeat"); r.ID != "r2" {
		t.Errorf("LatestRepeat(a, f) = %s, want the newest, r2", r.ID)
	}
	res(db.Read().LatestRepeat(ctx, "a", []byte("f"), now.Add(time.Hour))).notFound(t, "LatestRepeat since the newest's own time (strictly after)")
	res(db.Read().LatestRepeat(ctx, "b", []byte("f"), now.Add(-time.Hour))).notFound(t, "LatestRepeat of another person's fingerprint")

	write(t, db, "verify r1", func(q *store.Queries) error {
		return q.UpdateRightsRequest(ctx, "r1", "identity_verified", nil, now.Add(2*time.Hour), now.Add(2*time.Hour))
	})
	write(t, db, "answer r1", func(q *store.Queries) error {
		return q.UpdateRightsRequest(ctx, "r1", "done", []byte("answer"), time.Time{}, now.Add(3*time.Hour))
	})
	got := res(db.Read().FindRightsRequest(ctx, "r1")).must(t, "FindRightsRequest")
	if got.Status != "done" || string(got.Answer) != "answer" || !got.VerifiedAt.Equal(now.Add(2*time.Hour)) || !got.UpdatedAt.Equal(now.Add(3*time.Hour)) {
		t.Errorf("r1 after verifying and answering = %+v, want done, answered, verified at +2h", got)
	}
	write(t, db, "move r1 without an answer", func(q *store.Queries) error {
		return q.UpdateRightsRequest(ctx, "r1", "done", nil, time.Time{}, now.Add(4*time.Hour))
	})
	if got := res(db.Read().FindRightsRequest(ctx, "r1")).must(t, "FindRightsRequest"); string(got.Answer) != "answer" {
		t.Errorf("a nil answer replaced the answer: %q", got.Answer)
	}
	ids = nil
	for _, r := range res(db.Read().OpenRightsRequests(ctx, 10)).must(t, "OpenRightsRequests") {
		ids = append(ids, r.ID)
	}
	want(t, "OpenRightsRequests, soonest due first", ids, []string{"r2", "r3"})
}

func testSharing(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	rec := func(id, name string, at time.Time) store.RecipientRecord {
		return store.RecipientRecord{ID: id, Kind: "processor", Name: name, Purpose: "p", Categories: "x,y", Region: "EU",
			DeletionURL: "https://d", DeliveryURL: "https://v", Secret: "s", CreatedAt: at}
	}
	write(t, db, "CreateRecipient", func(q *store.Queries) error {
		if err := q.CreateRecipient(ctx, rec("x2", "Two", now.Add(time.Minute))); err != nil {
			return err
		}
		return q.CreateRecipient(ctx, rec("x1", "One", now))
	})
	wantCode(t, "a recipient with a taken name", writeErr(db, func(q *store.Queries) error { return q.CreateRecipient(ctx, rec("x3", "One", now)) }), "recipient_exists")
	want(t, "FindRecipient(x1)", res(db.Read().FindRecipient(ctx, "x1")).must(t, "FindRecipient"), rec("x1", "One", now))
	res(db.Read().FindRecipient(ctx, "nope")).notFound(t, "FindRecipient(nope)")
	var ids []string
	for _, r := range res(db.Read().Recipients(ctx)).must(t, "Recipients") {
		ids = append(ids, r.ID)
	}
	want(t, "Recipients, oldest first", ids, []string{"x1", "x2"})

	sr := func(id, u, to, status string, at time.Time) store.SharingRecord {
		return store.SharingRecord{ID: id, UserID: u, RecipientID: to, Purpose: "p", Categories: "x", Basis: "consent", Reference: "ref", Status: status, CreatedAt: at}
	}
	refused := sr("s4", "a", "x1", "refused", now.Add(3*time.Minute))
	refused.Refusal = "no consent"
	write(t, db, "CreateSharingRecord", func(q *store.Queries) error {
		for _, r := range []store.SharingRecord{sr("s1", "a", "x1", "sent", now), sr("s2", "a", "x2", "sent", now.Add(time.Minute)), sr("s3", "b", "x1", "sent", now.Add(2*time.Minute)), refused} {
			if err := q.CreateSharingRecord(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	list := func(rs []store.SharingRecord) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	want(t, "SharingRecords(a)", list(res(db.Read().SharingRecords(ctx, "a", 10)).must(t, "SharingRecords")), []string{"s4", "s2", "s1"})
	want(t, "SharingRecordsByRecipient(x1)", list(res(db.Read().SharingRecordsByRecipient(ctx, "x1", 10)).must(t, "SharingRecordsByRecipient")), []string{"s4", "s3", "s1"})
	want(t, "SharingRecordsByRecipient(all, 2)", list(res(db.Read().SharingRecordsByRecipient(ctx, "", 2)).must(t, "SharingRecordsByRecipient")), []string{"s4", "s3"})
	if got := res(db.Read().SharingRecords(ctx, "a", 10)).must(t, "SharingRecords"); got[0] != refused {
		t.Errorf("the refusal reads back as %+v, want %+v", got[0], refused)
	}

	if at := res(db.Read().NextDeletionNotice(ctx)).must(t, "NextDeletionNotice"); !at.IsZero() {
		t.Errorf("NextDeletionNotice with none asked = %v, want zero", at)
	}
	var n int64
	write(t, db, "RequestDeletion(a, x1)", func(q *store.Queries) (err error) {
		n, err = q.RequestDeletion(ctx, "a", "x1", "erasure", now.Add(time.Hour))
		return
	})
	if n != 1 { // s1; s4 was refused, so nothing went
		t.Errorf("RequestDeletion(a, x1) = %d, want 1", n)
	}
	write(t, db, "RequestDeletion(a, all)", func(q *store.Queries) (err error) {
		n, err = q.RequestDeletion(ctx, "a", "", "erasure", now.Add(2*time.Hour))
		return
	})
	if n != 1 { // s2; s1 was asked already and keeps its time
		t.Errorf("RequestDeletion(a, everyone) = %d, want 1", n)
	}
	if at := res(db.Read().NextDeletionNotice(ctx)).must(t, "NextDeletionNotice"); !at.Equal(now.Add(time.Hour)) {
		t.Errorf("NextDeletionNotice = %v, want %v", at, now.Add(time.Hour))
	}
	want(t, "DueDeletionNotices before any is due", list(res(db.Read().DueDeletionNotices(ctx, now.Add(59*time.Minute), 10)).must(t, "DueDeletionNotices")), []string{})
	due := res(db.Read().DueDeletionNotices(ctx, now.Add(2*time.Hour), 10)).must(t, "DueDeletionNotices")
	want(t, "DueDeletionNotices, at the second's time", list(due), []string{"s1", "s2"})
	if due[0].DeletionReason != "erasure" || !due[0].DeletionAt.Equal(now.Add(time.Hour)) || !due[0].NextAttempt.Equal(now.Add(time.Hour)) {
		t.Errorf("a due notice = %+v", due[0])
	}

	// Two nodes claim the same notice: one wins.
	var claimed bool
	write(t, db, "ClaimNotice", func(q *store.Queries) (err error) {
		claimed, err = q.ClaimNotice(ctx, due[:1], now.Add(3*time.Hour))
		return
	})
	if !claimed {
		t.Fatal("ClaimNotice of an unclaimed notice = false")
	}
	err := writeErr(db, func(q *store.Queries) error { _, err := q.ClaimNotice(ctx, due, now.Add(3*time.Hour)); return err })
	if !store.IsClaimed(err) {
		t.Errorf("a second claim with a stale view = %v, want claimed", err)
	}
	if got := list(res(db.Read().DueDeletionNotices(ctx, now.Add(2*time.Hour), 10)).must(t, "DueDeletionNotices")); !slices.Equal(got, []string{"s2"}) {
		t.Errorf("DueDeletionNotices while s1 is claimed = %v, want s2 (the failed claim changed nothing)", got)
	}
	write(t, db, "NoticeAttempted, failed", func(q *store.Queries) error {
		return q.NoticeAttempted(ctx, []string{"s2"}, now.Add(2*time.Hour), time.Time{}, now.Add(5*time.Hour), "503")
	})
	write(t, db, "NoticeAttempted, acknowledged", func(q *store.Queries) error {
		return q.NoticeAttempted(ctx, []string{"s1"}, now.Add(2*time.Hour), now.Add(2*time.Hour), time.Time{}, "")
	})
	got := res(db.Read().SharingRecords(ctx, "a", 10)).must(t, "SharingRecords")
	s1, s2 := got[2], got[1]
	if s2.Attempts != 1 || s2.LastError != "503" || !s2.NextAttempt.Equal(now.Add(5*time.Hour)) || !s2.AckedAt.IsZero() {
		t.Errorf("after a failed attempt s2 = %+v", s2)
	}
	if s1.Attempts != 1 || !s1.AckedAt.Equal(now.Add(2*time.Hour)) || !s1.NotifiedAt.Equal(now.Add(2*time.Hour)) {
		t.Errorf("after an acknowledged attempt s1 = %+v", s1)
	}
	if at := res(db.Read().NextDeletionNotice(ctx)).must(t, "NextDeletionNotice"); !at.Equal(now.Add(5 * time.Hour)) {
		t.Errorf("NextDeletionNotice = %v, want s2's retry at %v (s1 is acknowledged)", at, now.Add(5*time.Hour))
	}

	write(t, db, "DeleteRefusedSharing", func(q *store.Queries) error { return q.DeleteRefusedSharing(ctx, "a") })
	want(t, "SharingRecords(a) without refusals", list(res(db.Read().SharingRecords(ctx, "a", 10)).must(t, "SharingRecords")), []string{"s2", "s1"})
	write(t, db, "ForgetAckedDestroyed while a exists", func(q *store.Queries) (err error) { n, err = q.ForgetAckedDestroyed(ctx); return })
	if n != 0 {
		t.Errorf("ForgetAckedDestroyed with the account alive = %d, want 0", n)
	}
	write(t, db, "DeleteUser(a)", func(q *store.Queries) error { _, err := q.DeleteUser(ctx, "a"); return err })
	write(t, db, "ForgetAckedDestroyed", func(q *store.Queries) (err error) { n, err = q.ForgetAckedDestroyed(ctx); return })
	if n != 1 {
		t.Errorf("ForgetAckedDestroyed = %d, want 1 (s1; s2 is not acknowledged yet)", n)
	}
	byRec := res(db.Read().SharingRecordsByRecipient(ctx, "x1", 10)).must(t, "SharingRecordsByRecipient")
	if len(byRec) != 2 || byRec[1].ID != "s1" || byRec[1].UserID != "" || byRec[0].UserID != "b" {
		t.Errorf("after forgetting, x1's records = %+v, want s1 about nobody and b's kept", byRec)
	}
}

func testShareLinks(t *testing.T, db *store.DB) {
	users(t, db, "a")
	write(t, db, "CreateShareLink", func(q *store.Queries) error {
		for _, id := range []string{"p1", "p2"} {
			if err := q.CreateMoment(ctx, store.MomentRecord{ID: id, AuthorID: "a", Body: []byte("x"), Visibility: "public", CreatedAt: now}); err != nil {
				return err
			}
		}
		for _, l := range []store.ShareLinkRecord{
			{TokenHash: []byte("t1"), MomentID: "p1", AuthorID: "a", CreatedAt: now},
			{TokenHash: []byte("t2"), MomentID: "p1", AuthorID: "a", CreatedAt: now},
			{TokenHash: []byte("t3"), MomentID: "p2", AuthorID: "a", CreatedAt: now},
		} {
			if err := q.CreateShareLink(ctx, l); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "FindShareLink(t1)", res(db.Read().FindShareLink(ctx, []byte("t1"))).must(t, "FindShareLink"),
		store.ShareLinkRecord{TokenHash: []byte("t1"), MomentID: "p1", AuthorID: "a", CreatedAt: now})
	res(db.Read().FindShareLink(ctx, []byte("t9"))).notFound(t, "FindShareLink(t9)")
	var n int64
	write(t, db, "DeleteShareLinks(p1)", func(q *store.Queries) (err error) { n, err = q.DeleteShareLinks(ctx, "p1"); return })
	if n != 2 {
		t.Errorf("DeleteShareLinks(p1) = %d, want 2", n)
	}
	res(db.Read().FindShareLink(ctx, []byte("t2"))).notFound(t, "a revoked link")
	if _, err := db.Read().FindShareLink(ctx, []byte("t3")); err != nil {
		t.Errorf("another post's link was revoked: %v", err)
	}
	write(t, db, "DeleteMoment(p2)", func(q *store.Queries) error { return q.DeleteMoment(ctx, "p2") })
	res(db.Read().FindShareLink(ctx, []byte("t3"))).notFound(t, "a link to a deleted post")
}

func testStaffAndAudit(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "s")
	write(t, db, "PutStaff", func(q *store.Queries) error {
		if err := q.PutStaff(ctx, store.StaffRecord{UserID: "b", Role: "support", AddedBy: "a", AddedAt: now.Add(time.Minute)}); err != nil {
			return err
		}
		if err := q.PutStaff(ctx, store.StaffRecord{UserID: "a", Role: "support", AddedBy: "boot", AddedAt: now}); err != nil {
			return err
		}
		return q.PutStaff(ctx, store.StaffRecord{UserID: "a", Role: "admin", AddedBy: "boot", AddedAt: now}) // replaces
	})
	want(t, "FindStaff(a)", res(db.Read().FindStaff(ctx, "a")).must(t, "FindStaff"), store.StaffRecord{UserID: "a", Role: "admin", AddedBy: "boot", AddedAt: now})
	res(db.Read().FindStaff(ctx, "s")).notFound(t, "FindStaff of a non-member")
	var roles []string
	for _, r := range res(db.Read().Staff(ctx)).must(t, "Staff") {
		roles = append(roles, r.UserID+":"+r.Role)
	}
	want(t, "Staff, first added first", roles, []string{"a:admin", "b:support"})
	var had bool
	write(t, db, "DeleteStaff", func(q *store.Queries) (err error) { had, err = q.DeleteStaff(ctx, "b"); return })
	if !had {
		t.Error("DeleteStaff(b) = false")
	}
	write(t, db, "DeleteStaff again", func(q *store.Queries) (err error) { had, err = q.DeleteStaff(ctx, "b"); return })
	if had {
		t.Error("DeleteStaff twice = true")
	}

	entry := func(id, actor, subject string, visible bool, deferred time.Time, at time.Duration) store.AuditRecord {
		return store.AuditRecord{ID: id, ActorID: actor, ActorRole: "admin", Action: "view", SubjectID: subject, Target: "profile", Note: "n",
			Details: []byte("sealed"), Visible: visible, DeferredUntil: deferred, CreatedAt: now.Add(at * time.Minute)}
	}
	entries := []store.AuditRecord{
		entry("e1", "a", "s", true, time.Time{}, 1),
		entry("e2", "a", "s", false, time.Time{}, 2),
		entry("e3", "b", "s", true, now.Add(time.Hour), 3),
		entry("e4", "b", "x", true, time.Time{}, 4),
	}
	write(t, db, "AppendAudit", func(q *store.Queries) error {
		for _, e := range entries {
			if err := q.AppendAudit(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	audit := func(f store.AuditFilter) []string {
		t.Helper()
		f.Limit = 10
		out := []string{}
		for _, e := range res(db.Read().Audit(ctx, f)).must(t, "Audit") {
			out = append(out, e.ID)
		}
		return out
	}
	want(t, "Audit(all)", audit(store.AuditFilter{}), []string{"e4", "e3", "e2", "e1"})
	want(t, "Audit(subject s)", audit(store.AuditFilter{SubjectID: "s"}), []string{"e3", "e2", "e1"})
	want(t, "Audit(s, visible now)", audit(store.AuditFilter{SubjectID: "s", VisibleAt: now.Add(30 * time.Minute)}), []string{"e1"})
	want(t, "Audit(s, visible when the deferral ends)", audit(store.AuditFilter{SubjectID: "s", VisibleAt: now.Add(time.Hour)}), []string{"e3", "e1"})
	want(t, "Audit(actor b)", audit(store.AuditFilter{ActorID: "b"}), []string{"e4", "e3"})
	got := res(db.Read().Audit(ctx, store.AuditFilter{SubjectID: "s", Limit: 1})).must(t, "Audit")
	if len(got) != 1 || !reflectEqual(got[0], entries[2]) {
		t.Errorf("Audit(s, 1) = %+v, want %+v", got, entries[2])
	}
}

func testNotices(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	write(t, db, "CreateNotice", func(q *store.Queries) error {
		for i, id := range []string{"n1", "n2", "n3"} {
			if err := q.CreateNotice(ctx, store.NoticeRecord{ID: id, UserID: "a", Kind: "k", Body: []byte(id), CreatedAt: now.Add(time.Duration(i) * time.Minute)}); err != nil {
				return err
			}
		}
		return nil
	})
	ns := res(db.Read().Notices(ctx, "a", 2)).must(t, "Notices")
	want(t, "Notices(a, 2)", ns, []store.NoticeRecord{
		{ID: "n3", UserID: "a", Kind: "k", Body: []byte("n3"), CreatedAt: now.Add(2 * time.Minute)},
		{ID: "n2", UserID: "a", Kind: "k", Body: []byte("n2"), CreatedAt: now.Add(time.Minute)},
	})
	mark := func(u string, at time.Time) bool {
		t.Helper()
		var ok bool
		write(t, db, "MarkNoticeRead", func(q *store.Queries) (err error) { ok, err = q.MarkNoticeRead(ctx, u, "n1", at); return })
		return ok
	}
	if mark("b", now) {
		t.Error("MarkNoticeRead by someone else = true")
	}
	if at := res(db.Read().NoticeReadAt(ctx, "n1")).must(t, "NoticeReadAt"); !at.IsZero() {
		t.Errorf("NoticeReadAt of an unread notice = %v", at)
	}
	if !mark("a", now.Add(time.Hour)) || !mark("a", now.Add(2*time.Hour)) {
		t.Error("MarkNoticeRead by its owner = false")
	}
	if at := res(db.Read().NoticeReadAt(ctx, "n1")).must(t, "NoticeReadAt"); !at.Equal(now.Add(time.Hour)) {
		t.Errorf("NoticeReadAt after reading twice = %v, want the first time %v", at, now.Add(time.Hour))
	}
	if n := res(db.Read().Notices(ctx, "a", 10)).must(t, "Notices"); !n[2].ReadAt.Equal(now.Add(time.Hour)) {
		t.Errorf("Notices shows n1 read at %v", n[2].ReadAt)
	}
	if at, err := db.Read().NoticeReadAt(ctx, "gone"); !at.IsZero() {
		t.Errorf("NoticeReadAt of a missing notice = %v, want zero", at)
	} else {
		wantNotFound(t, "NoticeReadAt of a missing notice", err)
	}
}

func testIncidents(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	inc := func(id string, at time.Time) store.IncidentRecord {
		return store.IncidentRecord{ID: id, Summary: "s " + id, RecordedBy: "staff", Categories: []string{"contact", "messages"}, OccurredAt: at.Add(-time.Hour), CreatedAt: at}
	}
	write(t, db, "CreateIncident", func(q *store.Queries) error {
		if err := q.CreateIncident(ctx, inc("i1", now)); err != nil {
			return err
		}
		if err := q.CreateIncident(ctx, inc("i2", now.Add(time.Hour))); err != nil {
			return err
		}
		for _, p := range []store.IncidentPerson{
			{UserID: "b", NoticeID: "nb", NotifiedAt: now.Add(time.Minute)},
			{UserID: "a", NoticeID: "na", NotifiedAt: now},
			{UserID: "a", NoticeID: "again", NotifiedAt: now.Add(time.Hour)}, // a repeat keeps the first
		} {
			if err := q.AddIncidentPerson(ctx, "i1", p); err != nil {
				return err
			}
		}
		return nil
	})
	r, people := res2(db.Read().FindIncident(ctx, "i1")).must(t, "FindIncident")
	want(t, "FindIncident(i1)", r, inc("i1", now))
	want(t, "FindIncident(i1)'s people", people, []store.IncidentPerson{{UserID: "a", NoticeID: "na", NotifiedAt: now}, {UserID: "b", NoticeID: "nb", NotifiedAt: now.Add(time.Minute)}})
	if _, _, err := db.Read().FindIncident(ctx, "nope"); err == nil {
		t.Error("FindIncident(nope) = nil error")
	} else {
		wantNotFound(t, "FindIncident(nope)", err)
	}
	var ids []string
	for _, r := range res(db.Read().Incidents(ctx, 10)).must(t, "Incidents") {
		ids = append(ids, r.ID)
	}
	want(t, "Incidents, newest first", ids, []string{"i2", "i1"})
	write(t, db, "DeleteUser(a)", func(q *store.Queries) error { _, err := q.DeleteUser(ctx, "a"); return err })
	if _, people := res2(db.Read().FindIncident(ctx, "i1")).must(t, "FindIncident"); len(people) != 1 || people[0].UserID != "b" {
		t.Errorf("after a's account went, i1's people = %+v, want b alone", people)
	}
}

func testHolds(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	chat(t, db, "c", 1, "a", "b") // a wrote in c; b did not
	hold := func(id, kind, subject string, at time.Time) store.HoldRecord {
		return store.HoldRecord{ID: id, SubjectKind: kind, SubjectID: subject, Ground: "g", Reference: "ref", Status: "pending", RequestedBy: "s1", RequestedAt: at}
	}
	write(t, db, "CreateHold", func(q *store.Queries) error {
		if err := q.CreateHold(ctx, hold("h1", "conversation", "c", now)); err != nil {
			return err
		}
		return q.CreateHold(ctx, hold("h2", "user", "c", now.Add(time.Minute)))
	})
	want(t, "FindHold(h1)", res(db.Read().FindHold(ctx, "h1")).must(t, "FindHold"), hold("h1", "conversation", "c", now))
	res(db.Read().FindHold(ctx, "nope")).notFound(t, "FindHold(nope)")
	held := func(u string) bool { t.Helper(); return res(db.Read().Held(ctx, u)).must(t, "Held") }
	if held("a") || held("c") {
		t.Error("a pending hold holds")
	}
	step := func(what string, fn func(q *store.Queries) (bool, error)) bool {
		t.Helper()
		var ok bool
		write(t, db, what, func(q *store.Queries) (err error) { ok, err = fn(q); return })
		return ok
	}
	approve := func(id string) func(q *store.Queries) (bool, error) {
		return func(q *store.Queries) (bool, error) { return q.ApproveHold(ctx, id, "s2", now.Add(time.Hour)) }
	}
	release := func(id string) func(q *store.Queries) (bool, error) {
		return func(q *store.Queries) (bool, error) { return q.ReleaseHold(ctx, id, "s3", now.Add(2*time.Hour)) }
	}
	if !step("ApproveHold(h1)", approve("h1")) || step("ApproveHold(h1) again", approve("h1")) {
		t.Error("ApproveHold twice did not answer true, then false")
	}
	if !held("a") || held("b") {
		t.Errorf("an active hold on conversation c: Held(a) = %v, Held(b) = %v; want true (wrote in it), false", held("a"), held("b"))
	}
	if !step("ApproveHold(h2)", approve("h2")) || !held("c") {
		t.Error("an active hold on user c does not hold c")
	}
	if !step("ReleaseHold(h1)", release("h1")) || step("ReleaseHold(h1) again", release("h1")) {
		t.Error("ReleaseHold twice did not answer true, then false")
	}
	if step("ApproveHold of a released hold", approve("h1")) {
		t.Error("a released hold was approved")
	}
	if held("a") {
		t.Error("a released hold still holds")
	}
	h := res(db.Read().FindHold(ctx, "h1")).must(t, "FindHold")
	if h.Status != "released" || h.ApprovedBy != "s2" || !h.ApprovedAt.Equal(now.Add(time.Hour)) || h.ReleasedBy != "s3" || !h.ReleasedAt.Equal(now.Add(2*time.Hour)) {
		t.Errorf("h1 after approval and release = %+v", h)
	}
	var ids []string
	for _, h := range res(db.Read().Holds(ctx, 10)).must(t, "Holds") {
		ids = append(ids, h.ID+":"+h.Status)
	}
	want(t, "Holds, newest first", ids, []string{"h2:active", "h1:released"})
}

func testModeration(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	rep := func(id, reporter string, at time.Time) store.ReportRecord {
		return store.ReportRecord{ID: id, ReporterID: reporter, TargetKind: "user", TargetID: "b", TargetUserID: "b", Status: "open", Reason: []byte("sealed"), CreatedAt: at}
	}
	write(t, db, "CreateReport", func(q *store.Queries) error {
		for _, r := range []store.ReportRecord{rep("r2", "a", now.Add(time.Minute)), rep("r1", "a", now), rep("r3", "b", now.Add(2*time.Minute))} {
			if err := q.CreateReport(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "FindReport(r1)", res(db.Read().FindReport(ctx, "r1")).must(t, "FindReport"), rep("r1", "a", now))
	res(db.Read().FindReport(ctx, "nope")).notFound(t, "FindReport(nope)")
	if n := res(db.Read().CountReportsSince(ctx, "a", now)).must(t, "CountReportsSince"); n != 1 {
		t.Errorf("CountReportsSince(a, now) = %d, want 1 (strictly after)", n)
	}
	resolve := func(id, status string) bool {
		t.Helper()
		var ok bool
		write(t, db, "ResolveReport", func(q *store.Queries) (err error) {
			ok, err = q.ResolveReport(ctx, id, status, now.Add(time.Hour))
			return
		})
		return ok
	}
	if !resolve("r2", "actioned") || resolve("r2", "dismissed") {
		t.Error("ResolveReport twice did not answer true, then false")
	}
	if r := res(db.Read().FindReport(ctx, "r2")).must(t, "FindReport"); r.Status != "actioned" || !r.ResolvedAt.Equal(now.Add(time.Hour)) {
		t.Errorf("a resolved report = %+v", r)
	}
	list := func(status string) []string {
		out := []string{}
		for _, r := range res(db.Read().Reports(ctx, status, 10)).must(t, "Reports") {
			out = append(out, r.ID)
		}
		return out
	}
	want(t, "Reports(open)", list("open"), []string{"r1", "r3"})
	want(t, "Reports(all)", list(""), []string{"r1", "r2", "r3"})

	mustSession(t, db, "b", "phone", "b-token")
	if res(db.Read().FindSession(ctx, []byte("b-token"))).must(t, "FindSession").MaybeRestricted {
		t.Error("FindSession before any restriction: MaybeRestricted")
	}
	write(t, db, "AddRestriction", func(q *store.Queries) error {
		for _, r := range []store.RestrictionRecord{
			{ID: "x1", UserID: "b", Kind: "restrict", DecisionID: "d", Until: now.Add(time.Hour), CreatedAt: now},
			{ID: "x2", UserID: "b", Kind: "ban", DecisionID: "d", CreatedAt: now},
			{ID: "x3", UserID: "b", Kind: "restrict", DecisionID: "d", Until: now, CreatedAt: now.Add(-time.Hour)},
		} {
			if err := q.AddRestriction(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	active := func(at time.Time) []string {
		t.Helper()
		var out []string
		for _, r := range res(db.Read().ActiveRestrictions(ctx, "b", at)).must(t, "ActiveRestrictions") {
			out = append(out, r.ID)
		}
		slices.Sort(out)
		return out
	}
	want(t, "ActiveRestrictions(now)", active(now), []string{"x1", "x2"})
	if !res(db.Read().FindSession(ctx, []byte("b-token"))).must(t, "FindSession").MaybeRestricted {
		t.Error("FindSession with restrictions in force: not MaybeRestricted (a send would skip the check)")
	}
	want(t, "ActiveRestrictions(at x1's end)", active(now.Add(time.Hour)), []string{"x2"})
	if rs := res(db.Read().ActiveRestrictions(ctx, "b", now)).must(t, "ActiveRestrictions"); len(rs) != 2 {
		t.Fatalf("ActiveRestrictions = %+v", rs)
	} else {
		for _, r := range rs {
			if r.ID == "x2" && !r.Until.IsZero() {
				t.Errorf("a restriction with no end reads back ending %v", r.Until)
			}
		}
	}
	var n int64
	write(t, db, "LiftRestrictions", func(q *store.Queries) (err error) {
		n, err = q.LiftRestrictions(ctx, "b", now.Add(time.Minute))
		return
	})
	if n != 2 {
		t.Errorf("LiftRestrictions = %d, want the 2 in force", n)
	}
	want(t, "ActiveRestrictions after lifting", active(now), []string(nil))

	write(t, db, "CountEnforcement", func(q *store.Queries) error {
		for _, c := range [][2]string{{"2026-11", "ban"}, {"2026-10", "restrict"}, {"2026-11", "ban"}, {"2026-11", "actioned"}} {
			if err := q.CountEnforcement(ctx, c[0], c[1]); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "EnforcementCounts", res(db.Read().EnforcementCounts(ctx)).must(t, "EnforcementCounts"), []store.EnforcementCount{
		{Month: "2026-10", Action: "restrict", N: 1}, {Month: "2026-11", Action: "actioned", N: 1}, {Month: "2026-11", Action: "ban", N: 2},
	})
}
