package storetest

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// messagingCases: conversations, members, messages, receipts, search,
// push targets and QR codes (internal/messaging).
var messagingCases = []testCase{
	{"conversations keep their members in role order and go with them", testConversations},
	{"messages take gapless sequence numbers and page both ways, minus what a viewer hid", testMessages},
	{"AppendMessage stores a member's message once per client id, with its timer, read by its sender", testAppendMessage},
	{"AppendMessages stores a batch as AppendMessage would one by one, in one statement on PostgreSQL", testAppendMessages},
	{"a batch append that meets a retry committed meanwhile stores nothing", testAppendMessagesRace},
	{"FindSendCheck reads membership, conversation, and a direct chat's peer, blocks and friendship at once", testSendCheck},
	{"the member version counts every join, removal, role change and cascade, and FanOut lists the members at it", testMemberVersion},
	{"receipts only move forward and never past the last message", testReceipts},
	{"search finds messages holding every token that the viewer may see, newest first", testSearch},
	{"the search indexer's backlog: positions, live messages only, sorted batches", testIndexBacklog},
	{"SQLite's index file follows the log by rowid and removes what the messages' transactions ask", testSearchFile},
	{"friend codes are created once and reset by replacing", testFriendCodes},
	{"group codes, join approval and join requests", testGroupCodes},
	{"scan-to-login requests move one state at a time and expire", testLoginCodes},
}

func direct(id, key string) store.ConversationRecord {
	return store.ConversationRecord{ID: id, Kind: "direct", DirectKey: sql.NullString{String: key, Valid: key != ""}, CreatedAt: now, UpdatedAt: now}
}

func member(conv, uid, role string, joinedSeq int64) store.MemberRecord {
	return store.MemberRecord{ConvID: conv, UserID: uid, Role: role, JoinedSeq: joinedSeq, ReceivedSeq: joinedSeq, ReadSeq: joinedSeq, JoinedAt: now.Add(time.Duration(joinedSeq) * time.Second)}
}

// chat creates conversation id with members (the first the owner) and
// sends n messages from the owner, returning nothing: seqs are 1..n.
func chat(t *testing.T, db *store.DB, id string, n int, members ...string) {
	t.Helper()
	write(t, db, "chat "+id, func(q *store.Queries) error {
		c := direct(id, "")
		c.Kind = "group"
		if err := q.CreateConversation(ctx, c); err != nil {
			return err
		}
		for i, m := range members {
			role := "member"
			if i == 0 {
				role = "owner"
			}
			if err := q.AddMember(ctx, member(id, m, role, 0)); err != nil {
				return err
			}
		}
		for i := range n {
			if err := send(ctx, q, id, members[0], fmt.Sprintf("%s-%d", id, i+1), now.Add(time.Duration(i)*time.Minute)); err != nil {
				return err
			}
		}
		return nil
	})
}

func send(_ any, q *store.Queries, conv, sender, clientID string, at time.Time) error {
	seq, err := q.NextSeq(ctx, conv, at)
	if err != nil {
		return err
	}
	return q.InsertMessage(ctx, store.MessageRecord{ConvID: conv, Seq: seq, ID: conv + "/" + clientID, SenderID: sender, ClientID: clientID, Kind: "text", Body: []byte("sealed " + clientID), SentAt: at})
}

func seqs(ms []store.MessageRecord) []int64 {
	out := []int64{}
	for _, m := range ms {
		out = append(out, m.Seq)
	}
	return out
}

func testConversations(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	write(t, db, "CreateConversation", func(q *store.Queries) error { return q.CreateConversation(ctx, direct("d1", "a|b")) })
	wantCode(t, "a second direct chat with the same key", writeErr(db, func(q *store.Queries) error {
		return q.CreateConversation(ctx, direct("d2", "a|b"))
	}), "conversation_exists")
	want(t, "FindDirectConversation", res(db.Read().FindDirectConversation(ctx, "a|b")).must(t, "FindDirectConversation"), direct("d1", "a|b"))
	res(db.Read().FindDirectConversation(ctx, "a|c")).notFound(t, "FindDirectConversation(a|c)")
	res(db.Read().FindConversation(ctx, "nope")).notFound(t, "FindConversation(nope)")

	chat(t, db, "g", 0, "a")
	write(t, db, "members", func(q *store.Queries) error {
		if err := q.AddMember(ctx, member("g", "b", "member", 0)); err != nil {
			return err
		}
		if err := q.AddMember(ctx, member("g", "c", "admin", 1)); err != nil {
			return err
		}
		for _, m := range []string{"a", "b"} {
			if err := q.AddMember(ctx, member("d1", m, "member", 0)); err != nil {
				return err
			}
		}
		return nil
	})
	wantCode(t, "adding a member twice", writeErr(db, func(q *store.Queries) error { return q.AddMember(ctx, member("g", "b", "member", 0)) }), "already_member")
	ms := res(db.Read().Members(ctx, "g")).must(t, "Members")
	var order []string
	for _, m := range ms {
		order = append(order, m.UserID+":"+m.Role)
	}
	want(t, "Members(g)", order, []string{"a:owner", "c:admin", "b:member"})
	ids := res(db.Read().MemberIDs(ctx, "g")).must(t, "MemberIDs")
	slices.Sort(ids)
	want(t, "MemberIDs(g)", ids, []string{"a", "b", "c"})
	if n := res(db.Read().CountMembers(ctx, "g")).must(t, "CountMembers"); n != 3 {
		t.Errorf("CountMembers(g) = %d, want 3", n)
	}
	write(t, db, "role and mute", func(q *store.Queries) error {
		if err := q.SetMemberRole(ctx, "g", "b", "admin"); err != nil {
			return err
		}
		return q.SetMuted(ctx, "g", "b", true)
	})
	wantB := member("g", "b", "admin", 0)
	wantB.Muted = true
	want(t, "FindMember(g, b)", res(db.Read().FindMember(ctx, "g", "b")).must(t, "FindMember"), wantB)
	res(db.Read().FindMember(ctx, "nope", "b")).notFound(t, "FindMember of a missing conversation")
	res(db.Read().FindMember(ctx, "d1", "c")).notFound(t, "FindMember of a non-member")

	// Activity orders the chat list; a meta change alone does not.
	write(t, db, "a message in d1", func(q *store.Queries) error { return send(ctx, q, "d1", "a", "m1", now.Add(time.Hour)) })
	write(t, db, "UpdateConversationMeta", func(q *store.Queries) error {
		return q.UpdateConversationMeta(ctx, "g", []byte("meta"), now.Add(2*time.Hour))
	})
	cs, mems := res2(db.Read().ConversationsOf(ctx, "b")).must(t, "ConversationsOf")
	if len(cs) != 2 || cs[0].ID != "d1" || cs[1].ID != "g" || string(cs[1].Meta) != "meta" || cs[0].LastSeq != 1 || !cs[0].UpdatedAt.Equal(now.Add(time.Hour)) {
		t.Errorf("ConversationsOf(b) = %+v, want d1 (active an hour later, seq 1), then g with its meta", cs)
	}
	if len(mems) != 2 || mems[1] != wantB || mems[0].ConvID != "d1" {
		t.Errorf("ConversationsOf(b)'s member rows = %+v", mems)
	}

	var was bool
	write(t, db, "RemoveMember", func(q *store.Queries) (err error) { was, err = q.RemoveMember(ctx, "g", "c"); return })
	if !was {
		t.Error("RemoveMember(g, c) = false, want true")
	}
	write(t, db, "RemoveMember again", func(q *store.Queries) (err error) { was, err = q.RemoveMember(ctx, "g", "c"); return })
	if was {
		t.Error("RemoveMember twice = true, want false")
	}
	write(t, db, "DeleteConversation", func(q *store.Queries) error { return q.DeleteConversation(ctx, "d1") })
	res(db.Read().FindConversation(ctx, "d1")).notFound(t, "FindConversation after deleting it")
	res(db.Read().FindMember(ctx, "d1", "a")).notFound(t, "a member of a deleted conversation")
	res(db.Read().FindMessage(ctx, "d1", 1)).notFound(t, "a message of a deleted conversation")
	if cs, _ := res2(db.Read().ConversationsOf(ctx, "b")).must(t, "ConversationsOf"); len(cs) != 1 || cs[0].ID != "g" {
		t.Errorf("ConversationsOf(b) after deleting d1 = %+v", cs)
	}
}

// testAppendMessage: the send path's one write (issue 17). A member's
// message takes the next seq, the timer in force and the sender's read
// mark; a repeated client id (R-MSG-3: a retry), a non-member or a missing
// conversation store nothing and take no seq (R-MSG-4: seqs stay gapless).
func testAppendMessage(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "out")
	chat(t, db, "c", 2, "a", "b")
	type out struct {
		Seq     int64
		Expires time.Time
		OK      bool
	}
	appendMsg := func(m store.MessageRecord) out {
		t.Helper()
		var o out
		write(t, db, "AppendMessage "+m.ClientID, func(q *store.Queries) error {
			var err error
			o.Seq, o.Expires, o.OK, err = q.AppendMessage(ctx, m)
			return err
		})
		return o
	}
	at := now.Add(time.Hour)
	msg := func(sender, clientID, conv string) store.MessageRecord {
		return store.MessageRecord{ConvID: conv, ID: conv + "/" + clientID, SenderID: sender, ClientID: clientID, Kind: "text", Body: []byte("sealed " + clientID), SentAt: at}
	}
	want(t, "AppendMessage by b", appendMsg(msg("b", "x1", "c")), out{Seq: 3, OK: true})
	stored := res(db.Read().FindMessage(ctx, "c", 3)).must(t, "FindMessage")
	want(t, "the appended message", stored, store.MessageRecord{ConvID: "c", Seq: 3, ID: "c/x1", SenderID: "b", ClientID: "x1", Kind: "text", Body: []byte("sealed x1"), SentAt: at})
	conv := res(db.Read().FindConversation(ctx, "c")).must(t, "FindConversation")
	if conv.LastSeq != 3 || !conv.UpdatedAt.Equal(at) {
		t.Errorf("conversation after AppendMessage: last_seq %d, updated_at %v; want 3, %v", conv.LastSeq, conv.UpdatedAt, at)
	}
	if m := res(db.Read().FindMember(ctx, "c", "b")).must(t, "FindMember"); m.ReadSeq != 3 || m.ReceivedSeq != 3 {
		t.Errorf("the sender's positions = read %d, received %d; want 3, 3", m.ReadSeq, m.ReceivedSeq)
	}
	if m := res(db.Read().FindMember(ctx, "c", "a")).must(t, "FindMember"); m.ReadSeq == 3 {
		t.Error("AppendMessage marked it read by another member")
	}
	again := msg("b", "x1", "c")
	again.ID = "c/x1-again"
	want(t, "AppendMessage with b's used client id", appendMsg(again), out{})
	want(t, "AppendMessage by a non-member", appendMsg(msg("out", "o1", "c")), out{})
	want(t, "AppendMessage to a missing conversation", appendMsg(msg("a", "n1", "nope")), out{})
	if c := res(db.Read().FindConversation(ctx, "c")).must(t, "FindConversation"); c.LastSeq != 3 {
		t.Errorf("last_seq after three refused appends = %d, want 3 (no seq taken)", c.LastSeq)
	}
	write(t, db, "a 1-day timer", func(q *store.Queries) error { return q.SetDisappearing(ctx, "c", 24*time.Hour) })
	want(t, "AppendMessage under a timer", appendMsg(msg("a", "t1", "c")), out{Seq: 4, Expires: at.Add(24 * time.Hour), OK: true})
	if m := res(db.Read().FindMessage(ctx, "c", 4)).must(t, "FindMessage"); !m.ExpiresAt.Equal(at.Add(24 * time.Hour)) {
		t.Errorf("stored expiry = %v, want %v", m.ExpiresAt, at.Add(24*time.Hour))
	}
}

// testAppendMessages: the group-commit writer's batch of sends (issue 17)
// in one statement. Each message gets what AppendMessage would have given
// it, appended in the batch's order: seqs per conversation in that order
// and gapless (R-MSG-4), each conversation's timer (R-MSG-10), nothing for
// a non-member, a missing conversation, a client id already stored (a
// retry) or used by an earlier message of the batch (a retry queued with
// its first attempt; R-MSG-3); the senders' read marks at their last
// message; and the member version of a stored message's conversation.
func testAppendMessages(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "out")
	chat(t, db, "c", 2, "a", "b")
	chat(t, db, "d", 0, "a", "b")
	chat(t, db, "e", 0, "out")
	write(t, db, "a 1-day timer in d", func(q *store.Queries) error { return q.SetDisappearing(ctx, "d", 24*time.Hour) })
	at := now.Add(time.Hour)
	msg := func(sender, clientID, conv string, later time.Duration) store.MessageRecord {
		return store.MessageRecord{ConvID: conv, ID: conv + "/" + clientID, SenderID: sender, ClientID: clientID, Kind: "text",
			Body: []byte("sealed " + clientID), SentAt: at.Add(later)}
	}
	withMedia := msg("a", "y2", "d", 4*time.Second)
	withMedia.MediaID = sql.NullString{String: "media-1", Valid: true}
	dupInBatch := msg("b", "x1", "c", 3*time.Second)
	dupInBatch.ID = "c/x1-again"
	batch := []store.MessageRecord{
		msg("b", "x1", "c", 0),
		msg("a", "y1", "d", time.Second),
		msg("out", "o1", "c", 2*time.Second), // not a member
		dupInBatch,                           // b's x1 again, in the same batch
		withMedia,
		msg("b", "x2", "c", 5*time.Second),
		msg("a", "n1", "nope", 7*time.Second), // no such conversation
		// The client id of a send that stored nothing is free: as one by one.
		msg("out", "o1", "e", 8*time.Second),
	}
	vc := res(db.Read().MemberVersion(ctx, "c")).must(t, "MemberVersion c")
	vd := res(db.Read().MemberVersion(ctx, "d")).must(t, "MemberVersion d")
	ve := res(db.Read().MemberVersion(ctx, "e")).must(t, "MemberVersion e")
	var got []store.Appended
	write(t, db, "AppendMessages", func(q *store.Queries) error {
		var err error
		got, err = q.AppendMessages(ctx, batch)
		return err
	})
	day := 24 * time.Hour
	want(t, "AppendMessages", got, []store.Appended{
		{Seq: 3, OK: true, MemberVersion: vc},
		{Seq: 1, OK: true, ExpiresAt: at.Add(time.Second + day), MemberVersion: vd},
		{}, {},
		{Seq: 2, OK: true, ExpiresAt: at.Add(4*time.Second + day), MemberVersion: vd},
		{Seq: 4, OK: true, MemberVersion: vc},
		{},
		{Seq: 1, OK: true, MemberVersion: ve},
	})
	for _, w := range []struct {
		conv string
		seq  int64
		m    store.MessageRecord
	}{{"c", 3, batch[0]}, {"d", 1, batch[1]}, {"d", 2, batch[4]}, {"c", 4, batch[5]}} {
		stored := res(db.Read().FindMessage(ctx, w.conv, w.seq)).must(t, "FindMessage")
		w.m.Seq = w.seq
		if w.conv == "d" {
			w.m.ExpiresAt = w.m.SentAt.Add(day)
		}
		want(t, fmt.Sprintf("message %s/%d", w.conv, w.seq), stored, w.m)
	}
	for conv, last := range map[string]struct {
		seq int64
		at  time.Time
	}{"c": {4, at.Add(5 * time.Second)}, "d": {2, at.Add(4 * time.Second)}} {
		c := res(db.Read().FindConversation(ctx, conv)).must(t, "FindConversation")
		if c.LastSeq != last.seq || !c.UpdatedAt.Equal(last.at) {
			t.Errorf("conversation %s after the batch: last_seq %d, updated_at %v; want %d, %v", conv, c.LastSeq, c.UpdatedAt, last.seq, last.at)
		}
	}
	for _, m := range []struct {
		conv, user string
		read       int64
	}{{"c", "b", 4}, {"d", "a", 2}, {"c", "a", 0}, {"d", "b", 0}} {
		if got := res(db.Read().FindMember(ctx, m.conv, m.user)).must(t, "FindMember"); got.ReadSeq != m.read || got.ReceivedSeq != m.read {
			t.Errorf("%s's positions in %s = read %d, received %d; want %d, %d", m.user, m.conv, got.ReadSeq, got.ReceivedSeq, m.read, m.read)
		}
	}
	if prev := res(db.Read().FindMessageByClientID(ctx, "b", "x1")).must(t, "FindMessageByClientID"); prev.ID != "c/x1" {
		t.Errorf("b's x1 is %s, want the batch's first (c/x1)", prev.ID)
	}
	// A retry of a message stored before: as a race on PostgreSQL (the
	// caller appends one by one then), not stored on SQLite; either way
	// no seq taken.
	err := writeErr(db, func(q *store.Queries) error {
		got, err := q.AppendMessages(ctx, []store.MessageRecord{msg("a", "c-1", "c", 6*time.Second), msg("b", "x3", "c", 7*time.Second)})
		if err == nil && (len(got) != 2 || got[0].OK || !got[1].OK) {
			err = fmt.Errorf("got %+v", got)
		}
		if err == nil {
			err = errRollback
		}
		return err
	})
	if db.Dialect() == "postgres" && err != store.ErrClientIDRace || db.Dialect() != "postgres" && err != errRollback {
		t.Errorf("AppendMessages with a retry of a stored message = %v", err)
	}
	if c := res(db.Read().FindConversation(ctx, "c")).must(t, "FindConversation"); c.LastSeq != 4 {
		t.Errorf("last_seq after the retry = %d, want 4", c.LastSeq)
	}
	write(t, db, "AppendMessages of nothing", func(q *store.Queries) error {
		got, err := q.AppendMessages(ctx, nil)
		if err == nil && len(got) != 0 {
			err = fmt.Errorf("got %d results", len(got))
		}
		return err
	})
}

var errRollback = errors.New("roll back")

// testAppendMessagesRace: a retry that another node stores while a batch
// holding the same client id waits for the conversation (the batch's look
// for the client id came before that commit) must not leave a seq taken
// for nothing: AppendMessages fails with ErrClientIDRace on PostgreSQL,
// and the writer runs the batch again; on SQLite, one writer, the batch
// sees the first one stored and stores nothing.
func testAppendMessagesRace(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	chat(t, db, "c", 1, "a", "b")
	m := store.MessageRecord{ConvID: "c", ID: "c/r1", SenderID: "b", ClientID: "r1", Kind: "text", Body: []byte("sealed"), SentAt: now}
	holding, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Update(ctx, func(q *store.Queries) error {
			if _, _, ok, err := q.AppendMessage(ctx, m); err != nil || !ok {
				return fmt.Errorf("first attempt: stored %v, %v", ok, err)
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	second := make(chan error, 1)
	var got []store.Appended
	go func() {
		retry := m
		retry.ID = "c/r1-again"
		second <- db.Update(ctx, func(q *store.Queries) error {
			var err error
			got, err = q.AppendMessages(ctx, []store.MessageRecord{{ConvID: "c", ID: "c/other", SenderID: "a", ClientID: "o1", Kind: "text", SentAt: now}, retry})
			return err
		})
	}()
	time.Sleep(200 * time.Millisecond) // the batch waits for c's row (PostgreSQL) or for the writer (SQLite)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	err := <-second
	switch db.Dialect() {
	case "postgres":
		if err != store.ErrClientIDRace {
			t.Errorf("the batch with the retry = %v, want ErrClientIDRace", err)
		}
		if c := res(db.Read().FindConversation(ctx, "c")).must(t, "FindConversation"); c.LastSeq != 2 {
			t.Errorf("last_seq = %d, want 2: the failed batch took none", c.LastSeq)
		}
	default:
		if err != nil || len(got) != 2 || !got[0].OK || got[1].OK {
			t.Errorf("the batch with the retry = %+v, %v; want the other stored, the retry not", got, err)
		}
	}
}

// testSendCheck: the one read before a send (issue 17) answers what
// FindMember, FindConversation, EitherBlocks and AreFriends did.
func testSendCheck(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "out")
	chat(t, db, "g", 1, "a", "b")
	write(t, db, "a direct chat", func(q *store.Queries) error {
		if err := q.CreateConversation(ctx, direct("d", "a|b")); err != nil {
			return err
		}
		if err := q.AddMember(ctx, member("d", "a", "member", 0)); err != nil {
			return err
		}
		return q.AddMember(ctx, member("d", "b", "member", 0))
	})
	check := func(conv, user string) store.SendCheck {
		t.Helper()
		return res(db.Read().FindSendCheck(ctx, conv, user)).must(t, "FindSendCheck")
	}
	g := check("g", "b")
	want(t, "FindSendCheck in a group: member", g.Member, res(db.Read().FindMember(ctx, "g", "b")).must(t, "FindMember"))
	want(t, "FindSendCheck in a group: conversation", g.Conversation, res(db.Read().FindConversation(ctx, "g")).must(t, "FindConversation"))
	if g.PeerID != "" || g.Blocked || g.Friends {
		t.Errorf("FindSendCheck in a group = peer %q, blocked %v, friends %v; want none", g.PeerID, g.Blocked, g.Friends)
	}
	type peer struct {
		ID               string
		Blocked, Friends bool
	}
	of := func(sc store.SendCheck) peer { return peer{sc.PeerID, sc.Blocked, sc.Friends} }
	want(t, "a direct chat of strangers", of(check("d", "a")), peer{ID: "b"})
	write(t, db, "friends", func(q *store.Queries) error { return q.AddFriendship(ctx, "a", "b", now) })
	want(t, "a direct chat of friends", of(check("d", "a")), peer{ID: "b", Friends: true})
	want(t, "the other side", of(check("d", "b")), peer{ID: "a", Friends: true})
	write(t, db, "b blocks a", func(q *store.Queries) error { return q.Block(ctx, "b", "a", now) })
	want(t, "a, blocked by b", of(check("d", "a")), peer{ID: "b", Blocked: true, Friends: true})
	want(t, "b, who blocks a", of(check("d", "b")), peer{ID: "a", Blocked: true, Friends: true})
	res(db.Read().FindSendCheck(ctx, "d", "out")).notFound(t, "FindSendCheck of a non-member")
	res(db.Read().FindSendCheck(ctx, "nope", "a")).notFound(t, "FindSendCheck of a missing conversation")
}

func testMessages(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	chat(t, db, "c", 6, "a", "b")
	wantNotFound(t, "NextSeq of a missing conversation", writeErr(db, func(q *store.Queries) error { _, err := q.NextSeq(ctx, "nope", now); return err }))
	m := res(db.Read().FindMessage(ctx, "c", 2)).must(t, "FindMessage")
	want(t, "FindMessage(c, 2)", m, store.MessageRecord{ConvID: "c", Seq: 2, ID: "c/c-2", SenderID: "a", ClientID: "c-2", Kind: "text", Body: []byte("sealed c-2"), SentAt: now.Add(time.Minute)})
	want(t, "FindMessageByClientID", res(db.Read().FindMessageByClientID(ctx, "a", "c-2")).must(t, "FindMessageByClientID"), m)
	res(db.Read().FindMessageByClientID(ctx, "b", "c-2")).notFound(t, "FindMessageByClientID of another sender")
	res(db.Read().FindMessage(ctx, "c", 7)).notFound(t, "FindMessage(c, 7)")
	if err := writeErr(db, func(q *store.Queries) error { return send(ctx, q, "c", "a", "c-2", now) }); err == nil {
		t.Error("a second message with the same sender and client id was stored")
	}

	page := func(f store.MessageFilter) []int64 {
		t.Helper()
		f.ConvID = "c"
		return seqs(res(db.Read().Messages(ctx, f)).must(t, "Messages"))
	}
	want(t, "Messages after 2, 3 of them", page(store.MessageFilter{ViewerID: "b", AfterSeq: 2, Limit: 3}), []int64{3, 4, 5})
	want(t, "Messages between 2 and 5", page(store.MessageFilter{ViewerID: "b", AfterSeq: 2, BeforeSeq: 5, Limit: 10}), []int64{3, 4})
	want(t, "the newest 2 below 6", page(store.MessageFilter{ViewerID: "b", BeforeSeq: 6, Limit: 2, Newest: true}), []int64{4, 5})
	write(t, db, "HideMessage", func(q *store.Queries) error {
		if err := q.HideMessage(ctx, "b", "c", 4); err != nil {
			return err
		}
		return q.HideMessage(ctx, "b", "c", 4) // twice is harmless
	})
	want(t, "b's page after hiding 4", page(store.MessageFilter{ViewerID: "b", AfterSeq: 2, Limit: 3}), []int64{3, 5, 6})
	want(t, "a's page (4 is hidden for b only)", page(store.MessageFilter{ViewerID: "a", AfterSeq: 2, Limit: 3}), []int64{3, 4, 5})

	write(t, db, "a message with media", func(q *store.Queries) error {
		seq, err := q.NextSeq(ctx, "c", now)
		if err != nil {
			return err
		}
		return q.InsertMessage(ctx, store.MessageRecord{ConvID: "c", Seq: seq, ID: "pic", SenderID: "a", ClientID: "pic", Kind: "image",
			Body: []byte("x"), MediaID: sql.NullString{String: "m1", Valid: true}, SentAt: now})
	})
	write(t, db, "RecallMessage", func(q *store.Queries) error { return q.RecallMessage(ctx, "c", 7) })
	if r := res(db.Read().FindMessage(ctx, "c", 7)).must(t, "FindMessage"); r.Body != nil || r.MediaID.Valid || !r.Recalled {
		t.Errorf("a recalled message = %+v, want no body, no media, recalled", r)
	}
}

func testReceipts(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	chat(t, db, "c", 3, "a", "b", "c")
	pos := func(u string) string {
		t.Helper()
		m := res(db.Read().FindMember(ctx, "c", u)).must(t, "FindMember")
		return fmt.Sprintf("received %d read %d", m.ReceivedSeq, m.ReadSeq)
	}
	step := func(what string, fn func(q *store.Queries) error, u, wantPos string) {
		t.Helper()
		write(t, db, what, fn)
		if got := pos(u); got != wantPos {
			t.Errorf("after %s, %s has %s, want %s", what, u, got, wantPos)
		}
	}
	step("receiving 2", func(q *store.Queries) error { return q.AdvanceReceived(ctx, "c", "b", 2) }, "b", "received 2 read 0")
	step("receiving 1 (back)", func(q *store.Queries) error { return q.AdvanceReceived(ctx, "c", "b", 1) }, "b", "received 2 read 0")
	step("receiving 4 (past the last)", func(q *store.Queries) error { return q.AdvanceReceived(ctx, "c", "b", 4) }, "b", "received 2 read 0")
	step("reading 3", func(q *store.Queries) error { return q.AdvanceRead(ctx, "c", "b", 3) }, "b", "received 3 read 3")
	step("reading 2 (back)", func(q *store.Queries) error { return q.AdvanceRead(ctx, "c", "b", 2) }, "b", "received 3 read 3")
	step("reading 9 (past the last)", func(q *store.Queries) error { return q.AdvanceRead(ctx, "c", "c", 9) }, "c", "received 0 read 0")
	step("c reads 1", func(q *store.Queries) error { return q.AdvanceRead(ctx, "c", "c", 1) }, "c", "received 1 read 1")

	// Issue 17: a push goes to the subscriptions of the members asked about
	// who have not received seq 3, with whether they muted the chat; b has
	// received it, a has no subscription, "out" is no member.
	users(t, db, "out")
	for _, u := range []string{"a", "b", "c", "out"} {
		mustSession(t, db, u, "d1", "t-"+u)
	}
	mustSession(t, db, "c", "d2", "t-c2")
	for _, sub := range [][2]string{{"b", "d1"}, {"c", "d1"}, {"c", "d2"}, {"out", "d1"}} {
		write(t, db, "PutPushSubscription", func(q *store.Queries) error {
			return q.PutPushSubscription(ctx, store.PushSubscriptionRecord{UserID: sub[0], DeviceIdx: []byte(sub[1]), Sealed: []byte("s-" + sub[0] + sub[1]), CreatedAt: now})
		})
	}
	targets := func() map[string]bool {
		t.Helper()
		got := map[string]bool{}
		for _, pt := range res(db.Read().PushTargets(ctx, "c", 3, []string{"a", "b", "c", "out", "nobody"})).must(t, "PushTargets") {
			got[string(pt.Sealed)] = pt.Muted
		}
		return got
	}
	want(t, "PushTargets(c, 3)", targets(), map[string]bool{"s-cd1": false, "s-cd2": false})
	write(t, db, "mute", func(q *store.Queries) error { return q.SetMuted(ctx, "c", "c", true) })
	want(t, "PushTargets(c, 3) after c muted", targets(), map[string]bool{"s-cd1": true, "s-cd2": true})
	many := []string{}
	for i := range 600 {
		many = append(many, fmt.Sprint("x", i))
	}
	if got := res(db.Read().PushTargets(ctx, "c", 3, append(many, "c"))).must(t, "PushTargets"); len(got) != 2 {
		t.Errorf("PushTargets for 601 ids (c last) = %d subscriptions, want c's 2", len(got))
	}
	if got := res(db.Read().PushTargets(ctx, "c", 3, nil)).must(t, "PushTargets"); len(got) != 0 {
		t.Errorf("PushTargets for nobody = %v, want none", got)
	}
}

func testSearch(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "late", "out")
	chat(t, db, "c", 4, "a", "b")
	write(t, db, "a late joiner", func(q *store.Queries) error { return q.AddMember(ctx, member("c", "late", "member", 2)) })
	tok := func(s ...string) [][]byte {
		var out [][]byte
		for _, x := range s {
			out = append(out, []byte(x))
		}
		return out
	}
	many := tok("x")
	for i := range 70 { // more than one statement's worth
		many = append(many, []byte(fmt.Sprintf("t%02d", i)))
	}
	write(t, db.SearchIndex(), "IndexMessage", func(q *store.Queries) error {
		for seq, ts := range map[int64][][]byte{1: tok("x", "y"), 2: tok("x"), 3: many, 4: tok("y")} {
			// At the times chat gave the messages (the index store takes
			// them as given: it orders its candidates by them).
			at := now.Add(time.Duration(seq-1) * time.Minute)
			if err := q.IndexMessages(ctx, []store.IndexEntry{{ConvID: "c", Seq: seq, Tokens: ts, SentAt: at}}); err != nil {
				return err
			}
		}
		return q.IndexMessages(ctx, []store.IndexEntry{{ConvID: "c", Seq: 2, Tokens: tok("x"), SentAt: now.Add(time.Minute)}}) // a repeat is harmless
	})
	search := func(viewer string, ts ...string) []int64 {
		t.Helper()
		return seqs(res(db.Read().SearchMessages(ctx, viewer, tok(ts...), 10)).must(t, "SearchMessages"))
	}
	want(t, "b searching x", search("b", "x"), []int64{3, 2, 1})
	want(t, "b searching x and y", search("b", "x", "y"), []int64{1})
	want(t, "b searching the 70th token and x", search("b", "t69", "x"), []int64{3})
	want(t, "a late joiner searching x", search("late", "x"), []int64{3})
	want(t, "a non-member searching x", search("out", "x"), []int64{})
	if got := res(db.Read().SearchMessages(ctx, "b", tok("x"), 1)).must(t, "SearchMessages"); len(got) != 1 {
		t.Errorf("SearchMessages with limit 1 = %d results", len(got))
	}
	// Issue 17: a search reads the index once, the newest candidates
	// first, then opens them a page at a time while the decrypted text
	// rejects some; pages neither skip nor repeat a message.
	all := res(db.Read().SearchCandidates(ctx, "b", tok("x"), 0)).must(t, "SearchCandidates")
	var paged []int64
	for i := range all {
		paged = append(paged, seqs(res(db.Read().CandidateMessages(ctx, "b", all[i:i+1], 1)).must(t, "CandidateMessages"))...)
	}
	want(t, "b searching x a page of one at a time", paged, []int64{3, 2, 1})
	cands := res(db.Read().SearchCandidates(ctx, "b", tok("x"), 2)).must(t, "SearchCandidates")
	want(t, "b's first 2 candidates for x", cands, []store.MessageRef{{ConvID: "c", Seq: 3}, {ConvID: "c", Seq: 2}})
	want(t, "their messages", seqs(res(db.Read().CandidateMessages(ctx, "b", cands, 10)).must(t, "CandidateMessages")), []int64{3, 2})
	want(t, "the first of their messages", seqs(res(db.Read().CandidateMessages(ctx, "b", cands, 1)).must(t, "CandidateMessages")), []int64{3})
	want(t, "b searching x and the same token again", search("b", "x", "x"), []int64{3, 2, 1})
	write(t, db, "hide and unindex", func(q *store.Queries) error {
		if err := q.HideMessage(ctx, "b", "c", 3); err != nil {
			return err
		}
		return q.UnindexMessage(ctx, "c", 1)
	})
	applyUnindex(t, db)
	want(t, "b searching x after hiding 3 and unindexing 1", search("b", "x"), []int64{2})
	want(t, "a searching x", search("a", "x"), []int64{3, 2})
}

// testIndexBacklog: what the search indexer (messaging/indexer.go, issue
// 17) relies on. A conversation with messages past its indexed_seq is in
// the backlog until SetIndexed moves it; BacklogMessages reads exactly the
// messages after each position that still have a body; IndexMessages
// never indexes a message recalled or deleted after the indexer read it
// (R-MSG-5, R-MSG-6), and writing the same rows twice is harmless.
func testIndexBacklog(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	chat(t, db, "c1", 3, "a", "b")
	chat(t, db, "c2", 2, "b", "a")
	chat(t, db, "quiet", 0, "a")
	backlog := func() []store.IndexBacklog {
		t.Helper()
		return res(db.Read().SearchBacklog(ctx, "", 10)).must(t, "SearchBacklog")
	}
	want(t, "SearchBacklog of new chats", backlog(), []store.IndexBacklog{{ConvID: "c1", LastSeq: 3}, {ConvID: "c2", LastSeq: 2}})
	if got := res(db.Read().SearchBacklog(ctx, "", 1)).must(t, "SearchBacklog"); len(got) != 1 || got[0].ConvID != "c1" {
		t.Errorf("SearchBacklog(limit 1) = %+v, want c1 only", got)
	}
	if got := res(db.Read().SearchBacklog(ctx, "c1", 10)).must(t, "SearchBacklog"); len(got) != 1 || got[0].ConvID != "c2" {
		t.Errorf("SearchBacklog(after c1) = %+v, want c2 only", got)
	}
	write(t, db, "SetIndexed c1 to 1", func(q *store.Queries) error {
		return q.SetIndexed(ctx, []store.IndexBacklog{{ConvID: "c1", IndexedSeq: 1}, {ConvID: "gone", IndexedSeq: 9}})
	})
	b := backlog()
	want(t, "SearchBacklog after c1 indexed to 1", b, []store.IndexBacklog{{ConvID: "c1", IndexedSeq: 1, LastSeq: 3}, {ConvID: "c2", LastSeq: 2}})
	write(t, db, "recall c1/3", func(q *store.Queries) error {
		if err := q.RecallMessage(ctx, "c1", 3); err != nil {
			return err
		}
		return q.UnindexMessage(ctx, "c1", 3) // as messaging's Recall does
	})
	msgs := res(db.Read().BacklogMessages(ctx, b, 10)).must(t, "BacklogMessages")
	type cs struct {
		Conv string
		Seq  int64
	}
	var got []cs
	for _, m := range msgs {
		got = append(got, cs{m.ConvID, m.Seq})
	}
	want(t, "BacklogMessages (c1 after 1, recalled 3 left out; c2)", got, []cs{{"c1", 2}, {"c2", 1}, {"c2", 2}})
	want(t, "BacklogMessages limit 2", len(res(db.Read().BacklogMessages(ctx, b, 2)).must(t, "BacklogMessages")), 2)

	// The indexer read c2/1 and c2/2, then c2/2 was deleted (expiry) and
	// c1/3 had been recalled: only the live ones get tokens.
	write(t, db, "delete c2/2", func(q *store.Queries) error { return q.DeleteMessage(ctx, "c2", 2) })
	tok := func(s ...string) [][]byte {
		var out [][]byte
		for _, x := range s {
			out = append(out, []byte(x))
		}
		return out
	}
	entries := []store.IndexEntry{{ConvID: "c1", Seq: 2, Tokens: tok("zeta", "alpha")}, {ConvID: "c1", Seq: 3, Tokens: tok("alpha")},
		{ConvID: "c2", Seq: 1, Tokens: tok("alpha", "mid")}, {ConvID: "c2", Seq: 2, Tokens: tok("alpha")}}
	for i := range entries {
		entries[i].SentAt = now
	}
	write(t, db.SearchIndex(), "IndexMessages", func(q *store.Queries) error {
		if err := q.IndexMessages(ctx, entries); err != nil {
			return err
		}
		return q.IndexMessages(ctx, entries[:1]) // again: harmless
	})
	write(t, db, "SetIndexed", func(q *store.Queries) error {
		return q.SetIndexed(ctx, []store.IndexBacklog{{ConvID: "c1", IndexedSeq: 3}, {ConvID: "c2", IndexedSeq: 2}})
	})
	// SQLite's index file took the rows as given; the recall's and the
	// deletion's requests then remove them (store/searchfile.go).
	applyUnindex(t, db)
	search := func(ts ...string) []int64 {
		t.Helper()
		return seqs(res(db.Read().SearchMessages(ctx, "b", tok(ts...), 10)).must(t, "SearchMessages"))
	}
	want(t, "b searching alpha", len(search("alpha")), 2) // c1/2 and c2/1, not the recalled or deleted one
	want(t, "b searching zeta", search("zeta"), []int64{2})
	want(t, "b searching mid", search("mid"), []int64{1})
	want(t, "SearchBacklog when all is indexed", backlog(), []store.IndexBacklog(nil))
	write(t, db.SearchIndex(), "IndexMessages of nothing", func(q *store.Queries) error { return q.IndexMessages(ctx, nil) })
	write(t, db, "a new message", func(q *store.Queries) error { return send(ctx, q, "c2", "b", "c2-new", now) })
	want(t, "SearchBacklog after a new message", backlog(), []store.IndexBacklog{{ConvID: "c2", IndexedSeq: 2, LastSeq: 3}})

	// Issue 17, R-MSG-10: the batch's last messages leave the index, and
	// with them every row of it: no posting list, batch or token list is
	// left behind to say that a message once held a word.
	size := func() [3]int64 {
		t.Helper()
		var s [3]int64
		err := func() (err error) { s[0], s[1], s[2], err = db.SearchIndex().Read().IndexSize(ctx); return err }()
		if err != nil {
			t.Fatalf("IndexSize: %v", err)
		}
		return s
	}
	want(t, "the index's batches, lists and messages with c1/2 and c2/1 in it", size(), [3]int64{1, 3, 2})
	write(t, db, "recall c1/2 and c2/1", func(q *store.Queries) error {
		for _, m := range []struct {
			conv string
			seq  int64
		}{{"c1", 2}, {"c2", 1}} {
			if err := q.RecallMessage(ctx, m.conv, m.seq); err != nil {
				return err
			}
			if err := q.UnindexMessage(ctx, m.conv, m.seq); err != nil {
				return err
			}
		}
		return nil
	})
	applyUnindex(t, db)
	want(t, "b searching alpha after both recalls", search("alpha"), []int64{})
	want(t, "the index after its last messages left", size(), [3]int64{0, 0, 0})
}

func testFriendCodes(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	res(db.Read().FindFriendCode(ctx, "a")).notFound(t, "FindFriendCode before any")
	code := func(salt string) store.FriendCodeRecord {
		return store.FriendCodeRecord{UserID: "a", Salt: []byte(salt), TokenIdx: []byte("tok-" + salt), CreatedAt: now}
	}
	write(t, db, "CreateFriendCode twice", func(q *store.Queries) error {
		if err := q.CreateFriendCode(ctx, code("1")); err != nil {
			return err
		}
		return q.CreateFriendCode(ctx, code("2")) // a concurrent first request lost: nothing changes
	})
	want(t, "FindFriendCode after two creates", res(db.Read().FindFriendCode(ctx, "a")).must(t, "FindFriendCode"), code("1"))
	write(t, db, "PutFriendCode", func(q *store.Queries) error { return q.PutFriendCode(ctx, code("3")) })
	want(t, "FindFriendCodeByToken(new)", res(db.Read().FindFriendCodeByToken(ctx, []byte("tok-3"))).must(t, "FindFriendCodeByToken"), code("3"))
	res(db.Read().FindFriendCodeByToken(ctx, []byte("tok-1"))).notFound(t, "FindFriendCodeByToken(reset token)")

	write(t, db, "Block", func(q *store.Queries) error { return q.Block(ctx, "a", "b", now) })
	if !res(db.Read().Blocks(ctx, "a", "b")).must(t, "Blocks") || res(db.Read().Blocks(ctx, "b", "a")).must(t, "Blocks") {
		t.Error("Blocks is not one-directional: a blocks b, b does not block a")
	}
}

func testGroupCodes(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	chat(t, db, "g", 0, "a")
	chat(t, db, "h", 0, "a")
	gc := func(id, conv string, exp time.Time) store.GroupCodeRecord {
		return store.GroupCodeRecord{ID: id, ConvID: conv, CreatorID: "a", Salt: []byte("s" + id), TokenIdx: []byte("t" + id), CreatedAt: now, ExpiresAt: exp}
	}
	write(t, db, "CreateGroupCode", func(q *store.Queries) error {
		for _, r := range []store.GroupCodeRecord{gc("1", "g", now.Add(time.Hour)), gc("2", "g", now), gc("3", "h", now.Add(-time.Second))} {
			if err := q.CreateGroupCode(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "FindGroupCode(g, 1)", res(db.Read().FindGroupCode(ctx, "g", "1")).must(t, "FindGroupCode"), gc("1", "g", now.Add(time.Hour)))
	res(db.Read().FindGroupCode(ctx, "h", "1")).notFound(t, "FindGroupCode of another group's code")
	if r := res(db.Read().FindGroupCodeByToken(ctx, []byte("t2"))).must(t, "FindGroupCodeByToken"); r.ID != "2" {
		t.Errorf("FindGroupCodeByToken(t2) = %+v", r)
	}
	write(t, db, "RevokeGroupCode twice", func(q *store.Queries) error {
		if err := q.RevokeGroupCode(ctx, "1", now); err != nil {
			return err
		}
		return q.RevokeGroupCode(ctx, "1", now.Add(time.Minute))
	})
	if r := res(db.Read().FindGroupCode(ctx, "g", "1")).must(t, "FindGroupCode"); !r.RevokedAt.Valid || !r.RevokedAt.Time.Equal(now) {
		t.Errorf("a code revoked twice has RevokedAt %+v, want the first time %v", r.RevokedAt, now)
	}
	write(t, db, "DeleteGroupCodesExpiredBefore", func(q *store.Queries) error { return q.DeleteGroupCodesExpiredBefore(ctx, now) })
	res(db.Read().FindGroupCode(ctx, "h", "3")).notFound(t, "a code expired before the cutoff")
	if _, err := db.Read().FindGroupCode(ctx, "g", "2"); err != nil {
		t.Errorf("a code expiring at the cutoff was deleted: %v", err)
	}

	if res(db.Read().JoinApproval(ctx, "g")).must(t, "JoinApproval") {
		t.Error("JoinApproval of a new group = true, want false")
	}
	write(t, db, "SetJoinApproval", func(q *store.Queries) error { return q.SetJoinApproval(ctx, "g", true, now) })
	if !res(db.Read().JoinApproval(ctx, "g")).must(t, "JoinApproval") || res(db.Read().JoinApproval(ctx, "h")).must(t, "JoinApproval") {
		t.Error("JoinApproval after switching g on is not on for g alone")
	}
	write(t, db, "SetJoinApproval off", func(q *store.Queries) error { return q.SetJoinApproval(ctx, "g", false, now) })
	if res(db.Read().JoinApproval(ctx, "g")).must(t, "JoinApproval") {
		t.Error("JoinApproval after switching it off = true")
	}

	jr := func(id, u string, at time.Time) store.JoinRequestRecord {
		return store.JoinRequestRecord{ID: id, ConvID: "g", UserID: u, Status: "pending", CreatedAt: at}
	}
	write(t, db, "CreateJoinRequest", func(q *store.Queries) error {
		if err := q.CreateJoinRequest(ctx, jr("r2", "c", now.Add(time.Second))); err != nil {
			return err
		}
		return q.CreateJoinRequest(ctx, jr("r1", "b", now))
	})
	wantCode(t, "a second pending request", writeErr(db, func(q *store.Queries) error { return q.CreateJoinRequest(ctx, jr("r3", "b", now)) }), "join_request_pending")
	want(t, "PendingJoinRequest(g, b)", res(db.Read().PendingJoinRequest(ctx, "g", "b")).must(t, "PendingJoinRequest"), jr("r1", "b", now))
	res(db.Read().PendingJoinRequest(ctx, "h", "b")).notFound(t, "PendingJoinRequest in another group")
	var ids []string
	for _, r := range res(db.Read().PendingJoinRequests(ctx, "g", 10)).must(t, "PendingJoinRequests") {
		ids = append(ids, r.ID)
	}
	want(t, "PendingJoinRequests(g)", ids, []string{"r1", "r2"})
	decide := func() bool {
		t.Helper()
		var ok bool
		write(t, db, "DecideJoinRequest", func(q *store.Queries) (err error) {
			ok, err = q.DecideJoinRequest(ctx, "r1", "approved", "a", now)
			return
		})
		return ok
	}
	if !decide() || decide() {
		t.Error("DecideJoinRequest twice did not answer true, then false")
	}
	if r := res(db.Read().FindJoinRequest(ctx, "g", "r1")).must(t, "FindJoinRequest"); r.Status != "approved" {
		t.Errorf("a decided request has status %q", r.Status)
	}
	res(db.Read().FindJoinRequest(ctx, "h", "r1")).notFound(t, "FindJoinRequest in another group")
	res(db.Read().PendingJoinRequest(ctx, "g", "b")).notFound(t, "PendingJoinRequest after the decision")
	write(t, db, "a new request after a decision", func(q *store.Queries) error { return q.CreateJoinRequest(ctx, jr("r4", "b", now)) })
}

func testLoginCodes(t *testing.T, db *store.DB) {
	users(t, db, "a", "b")
	lc := func(id string, exp time.Time) store.LoginCodeRecord {
		return store.LoginCodeRecord{ID: id, TokenIdx: []byte("t" + id), PollIdx: []byte("p" + id), Requester: []byte("r"), Status: "pending", CreatedAt: now, ExpiresAt: exp}
	}
	write(t, db, "CreateLoginCode", func(q *store.Queries) error {
		for _, r := range []store.LoginCodeRecord{lc("1", now.Add(time.Minute)), lc("2", now), lc("3", now.Add(-time.Minute))} {
			if err := q.CreateLoginCode(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	want(t, "FindLoginCode(1)", res(db.Read().FindLoginCode(ctx, "1")).must(t, "FindLoginCode"), lc("1", now.Add(time.Minute)))
	res(db.Read().FindLoginCode(ctx, "9")).notFound(t, "FindLoginCode(9)")
	if r := res(db.Read().FindLoginCodeByToken(ctx, []byte("t2"))).must(t, "FindLoginCodeByToken"); r.ID != "2" {
		t.Errorf("FindLoginCodeByToken(t2) = %+v", r)
	}
	move := func(from, to, scanner string) bool {
		t.Helper()
		var ok bool
		write(t, db, "MoveLoginCode", func(q *store.Queries) (err error) { ok, err = q.MoveLoginCode(ctx, "1", from, to, scanner); return })
		return ok
	}
	if !move("pending", "scanned", "a") {
		t.Fatal("MoveLoginCode(pending -> scanned) = false")
	}
	if move("pending", "scanned", "b") {
		t.Error("a second scanner moved the request from pending too")
	}
	if !move("scanned", "confirmed", "") {
		t.Error("MoveLoginCode(scanned -> confirmed) = false")
	}
	r := res(db.Read().FindLoginCode(ctx, "1")).must(t, "FindLoginCode")
	if r.Status != "confirmed" || r.ScannerID != (sql.NullString{String: "a", Valid: true}) {
		t.Errorf("after scanning and confirming, the request is %+v, want confirmed, scanned by a", r)
	}
	want(t, "ExpiredLoginCodes(now)", res(db.Read().ExpiredLoginCodes(ctx, now, 10)).must(t, "ExpiredLoginCodes"), []string{"3"})
	want(t, "ExpiredLoginCodes(now+2m)", res(db.Read().ExpiredLoginCodes(ctx, now.Add(2*time.Minute), 2)).must(t, "ExpiredLoginCodes"), []string{"3", "2"})
	write(t, db, "DeleteLoginCode", func(q *store.Queries) error { return q.DeleteLoginCode(ctx, "3") })
	res(db.Read().FindLoginCode(ctx, "3")).notFound(t, "FindLoginCode after DeleteLoginCode")
	// The scanner's account going takes its confirmed request with it.
	write(t, db, "DeleteUser(a)", func(q *store.Queries) error { _, err := q.DeleteUser(ctx, "a"); return err })
	res(db.Read().FindLoginCode(ctx, "1")).notFound(t, "a request scanned by a deleted account")
}

// testMemberVersion: a node caches a conversation's members for fan-out and
// uses them only while the member version read with the message is the
// one it cached them at (issue 17), so every change to who is in a
// conversation must move it, however it was made: joins, removals, role
// changes and an account's deletion cascading to its memberships; and a
// message (a read mark, a mute) must not.
func testMemberVersion(t *testing.T, db *store.DB) {
	users(t, db, "a", "b", "c")
	chat(t, db, "g", 0, "a", "b")
	version := func() int64 { return res(db.Read().MemberVersion(ctx, "g")).must(t, "MemberVersion") }
	fanOut := func() (int64, []string) {
		v, ms, err := db.Read().FanOut(ctx, "g")
		if err != nil {
			t.Fatalf("FanOut: %v", err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s:%s:%d", m.UserID, m.Role, m.JoinedSeq))
		}
		slices.Sort(out)
		return v, out
	}
	v0 := version()
	if v, ms := fanOut(); v != v0 || !slices.Equal(ms, []string{"a:owner:0", "b:member:0"}) {
		t.Errorf("FanOut(g) = %d %v, want %d [a:owner:0 b:member:0]", v, ms, v0)
	}
	changed := func(what string, fn func(q *store.Queries) error) {
		t.Helper()
		before := version()
		write(t, db, what, fn)
		if after := version(); after <= before {
			t.Errorf("%s: member version %d, was %d; a cached member list would be used after it", what, after, before)
		}
	}
	unchanged := func(what string, fn func(q *store.Queries) error) {
		t.Helper()
		before := version()
		write(t, db, what, fn)
		if after := version(); after != before {
			t.Errorf("%s: member version moved %d -> %d; every cached list of the conversation would be dropped for nothing", what, before, after)
		}
	}
	unchanged("a message, its read mark and a mute", func(q *store.Queries) error {
		if err := send(ctx, q, "g", "a", "v1", now); err != nil {
			return err
		}
		if err := q.AdvanceRead(ctx, "g", "b", 1); err != nil {
			return err
		}
		return q.SetMuted(ctx, "g", "b", true)
	})
	changed("a join", func(q *store.Queries) error { return q.AddMember(ctx, member("g", "c", "member", 1)) })
	if v, ms := fanOut(); v != version() || !slices.Equal(ms, []string{"a:owner:0", "b:member:0", "c:member:1"}) {
		t.Errorf("FanOut(g) after the join = %d %v", v, ms)
	}
	changed("a role change", func(q *store.Queries) error { return q.SetMemberRole(ctx, "g", "b", "admin") })
	changed("a removal", func(q *store.Queries) (err error) { _, err = q.RemoveMember(ctx, "g", "c"); return })
	changed("BumpMemberVersion", func(q *store.Queries) error { return q.BumpMemberVersion(ctx, "g") })
	changed("an account deleted with its memberships", func(q *store.Queries) (err error) { _, err = q.DeleteUser(ctx, "b"); return })
	if _, ms := fanOut(); !slices.Equal(ms, []string{"a:owner:0"}) {
		t.Errorf("FanOut(g) after b's account went = %v, want [a:owner:0]", ms)
	}
	write(t, db, "DeleteConversation", func(q *store.Queries) error { return q.DeleteConversation(ctx, "g") })
	res(db.Read().MemberVersion(ctx, "g")).notFound(t, "MemberVersion of a deleted conversation")
	if _, _, err := db.Read().FanOut(ctx, "g"); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("FanOut of a deleted conversation: %v, want not_found", err)
	}
}

// applyUnindex applies the removal requests waiting for SQLite's index file
// (nothing elsewhere), as the search indexer does after each pass.
func applyUnindex(t *testing.T, db *store.DB) {
	t.Helper()
	for {
		n, err := db.ApplyUnindexQueue(ctx, 2)
		if err != nil {
			t.Fatalf("ApplyUnindexQueue = %v", err)
		}
		if n == 0 {
			return
		}
	}
}

// testSearchFile: SQLite's search index in a file of its own (issue 17,
// store/searchfile.go). The indexer reads the log by rowid past emptied
// and recalled messages; every removal the message file's transactions
// ask for (a recall, an expired message, a deleted conversation) reaches
// the index file; and a rowid SQLite hands out again after the newest
// message is deleted is read again (R-MSG-5, R-MSG-6, R-MSG-10).
func testSearchFile(t *testing.T, db *store.DB) {
	if db.SearchIndex() == db {
		t.Skip("the search index is in the database itself (PostgreSQL)")
	}
	users(t, db, "a", "b")
	chat(t, db, "c", 3, "a", "b")
	chat(t, db, "d", 1, "a", "b")
	msgs, last, read := must3(t)(db.Read().LogMessages(ctx, 0, 2))
	if len(msgs) != 2 || read != 2 || msgs[0].ConvID != "c" || msgs[1].Seq != 2 {
		t.Fatalf("LogMessages(0, 2) = %+v, read %d", msgs, read)
	}
	write(t, db, "recall c/3", func(q *store.Queries) error { return q.RecallMessage(ctx, "c", 3) })
	rest, end, read := must3(t)(db.Read().LogMessages(ctx, last.Rowid, 10))
	if len(rest) != 1 || rest[0].ConvID != "d" || read != 2 || end.Rowid <= last.Rowid || end.ConvID != "d" || end.Seq != 1 {
		t.Fatalf("LogMessages after %d = %+v, %d, read %d; want d/1 alone past the recalled c/3", last.Rowid, rest, end.Rowid, read)
	}
	tok := [][]byte{[]byte("w")}
	var entries []store.IndexEntry
	for _, m := range append(msgs, rest...) {
		entries = append(entries, store.IndexEntry{ConvID: m.ConvID, Seq: m.Seq, Tokens: tok, SentAt: m.SentAt})
	}
	write(t, db.SearchIndex(), "a pass", func(q *store.Queries) error {
		if err := q.IndexMessages(ctx, entries); err != nil {
			return err
		}
		return q.SetSearchPosition(ctx, end)
	})
	want(t, "SearchPosition", res(db.SearchIndex().Read().SearchPosition(ctx)).must(t, "SearchPosition"), end.Rowid)
	search := func() []string {
		t.Helper()
		var out []string
		for _, m := range res(db.Read().SearchMessages(ctx, "b", tok, 10)).must(t, "SearchMessages") {
			out = append(out, fmt.Sprint(m.ConvID, "/", m.Seq))
		}
		slices.Sort(out)
		return out
	}
	want(t, "search w", search(), []string{"c/1", "c/2", "d/1"})

	// Un-index c/2 (a recall), then delete d/1, the newest message.
	write(t, db, "UnindexMessage c/2", func(q *store.Queries) error { return q.UnindexMessage(ctx, "c", 2) })
	write(t, db, "DeleteMessage d/1", func(q *store.Queries) error { return q.DeleteMessage(ctx, "d", 1) })
	queue := res(db.Read().UnindexQueue(ctx, 10)).must(t, "UnindexQueue")
	if len(queue) != 2 || queue[0].Seq != 2 || queue[1].ConvID != "d" || queue[1].Floor >= end.Rowid {
		t.Fatalf("UnindexQueue = %+v, want c/2 and d/1, the latter with a floor below %d", queue, end.Rowid)
	}
	applyUnindex(t, db)
	want(t, "search w after the removals", search(), []string{"c/1"})
	want(t, "UnindexQueue after they were applied", res(db.Read().UnindexQueue(ctx, 10)).must(t, "UnindexQueue"), []store.UnindexEntry(nil))
	pos := res(db.SearchIndex().Read().SearchPosition(ctx)).must(t, "SearchPosition")
	if pos != queue[1].Floor {
		t.Errorf("SearchPosition after a deletion of the newest message = %d, want its floor %d", pos, queue[1].Floor)
	}
	// The next message may take d/1's rowid: the position lets it be read.
	write(t, db, "a new message", func(q *store.Queries) error { return send(ctx, q, "c", "a", "new", now) })
	again, _, _ := must3(t)(db.Read().LogMessages(ctx, pos, 10))
	if len(again) != 1 || again[0].Seq != 4 {
		t.Errorf("LogMessages after the lowered position = %+v, want the new c/4", again)
	}

	// A deleted conversation's rows go; a request handled twice is harmless.
	write(t, db, "DeleteConversation c", func(q *store.Queries) error { return q.DeleteConversation(ctx, "c") })
	queue = res(db.Read().UnindexQueue(ctx, 10)).must(t, "UnindexQueue")
	applyUnindex(t, db)
	write(t, db.SearchIndex(), "ApplyUnindex again", func(q *store.Queries) error { return q.ApplyUnindex(ctx, queue) })
	write(t, db, "DoneUnindex of nothing", func(q *store.Queries) error { return q.DoneUnindex(ctx, 0) })
	if n := db.SearchIndex().Read(); n == nil {
		t.Fatal("no reader on the index store")
	}
	want(t, "search w after deleting c", search(), []string(nil))

	// A destroyed sender's purge (R-DEL-4): their emptied messages' rows
	// are deleted in the index file by the marks, and then the marks.
	write(t, db, "a's message in d", func(q *store.Queries) error { return send(ctx, q, "d", "a", "d-new", now) })
	write(t, db.SearchIndex(), "index d/2", func(q *store.Queries) error {
		return q.IndexMessages(ctx, []store.IndexEntry{{ConvID: "d", Seq: 2, Tokens: tok, SentAt: now}})
	})
	want(t, "search w with d/2", search(), []string{"d/2"})
	write(t, db, "EmptyMessageBodies", func(q *store.Queries) error { _, err := q.EmptyMessageBodies(ctx, "a", 10); return err })
	marks := res(db.Read().PurgeMarks(ctx, "a", 10)).must(t, "PurgeMarks")
	if len(marks) != 1 || marks[0].ConvID != "d" || marks[0].Seq != 2 {
		t.Fatalf("PurgeMarks = %+v, want d/2", marks)
	}
	write(t, db.SearchIndex(), "ApplyUnindex of the marks", func(q *store.Queries) error { return q.ApplyUnindex(ctx, marks) })
	write(t, db, "ClearPurgeMarks", func(q *store.Queries) error { return q.ClearPurgeMarks(ctx, marks) })
	want(t, "PurgeMarks after ClearPurgeMarks", res(db.Read().PurgeMarks(ctx, "a", 10)).must(t, "PurgeMarks"), []store.UnindexEntry(nil))
	want(t, "search w after the purge", search(), []string(nil))
}

// must3 unpacks LogMessages's answer, failing the test on its error.
func must3(t *testing.T) func([]store.MessageRecord, store.LogPosition, int, error) ([]store.MessageRecord, store.LogPosition, int) {
	return func(m []store.MessageRecord, last store.LogPosition, read int, err error) ([]store.MessageRecord, store.LogPosition, int) {
		t.Helper()
		if err != nil {
			t.Fatalf("LogMessages = %v", err)
		}
		return m, last, read
	}
}
