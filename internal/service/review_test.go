package service_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/bus/inmem"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/sqlite"
)

// TestStaleCachedMemberChecks (issue 17; R-MSG-2, R-MSG-7): a node whose
// cached member list is stale (it has not heard, or never will hear, of a
// change another node made) must not judge a send by what the list says of
// the sender. Two nodes on one store, each on a bus of its own, as when an
// invalidation is lost or still on its way:
//   - someone removed and added back must not quote, through the stale node,
//     a message sent while they were out: the send answer would show them its
//     text (R-MSG-2: non-members can read nothing);
//   - an admin made a plain member must not mention everyone (R-MSG-7: @all
//     by owners and admins).
//
// Both were refused before the send check came from memory, whatever node.
func TestStaleCachedMemberChecks(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"), 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		checkStaleCachedMemberChecks(t, db)
	})
	t.Run("on PostgreSQL", func(t *testing.T) {
		base := os.Getenv("TKESJ_TEST_POSTGRES_URL")
		if base == "" {
			t.Skip("TKESJ_TEST_POSTGRES_URL is not set")
		}
		checkStaleCachedMemberChecks(t, openPostgres(t, base))
	})
}

func checkStaleCachedMemberChecks(t *testing.T, db *store.DB) {
	ctx := context.Background()
	keys := testKeys(t)
	node := func() *service.Service {
		bus := inmem.New(0) // a bus of its own: B never hears of A's changes
		t.Cleanup(func() { bus.Close() })
		svc := testNode(t, db, keys, bus)
		return svc
	}
	a, b := node(), node()
	users, err := a.SeedUsers(ctx, 3, "stale", 0, "a good long password")
	if err != nil {
		t.Fatal(err)
	}
	owner, back, demoted := users[0], users[1], users[2]
	if err := a.SeedFriends(ctx, [][2]string{{owner.ID, back.ID}, {owner.ID, demoted.ID}}); err != nil {
		t.Fatal(err)
	}
	auth := func(svc *service.Service, token string) kernel.Auth {
		t.Helper()
		au, err := svc.Authenticate(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		return au
	}
	ownerA, ownerB := auth(a, owner.Token), auth(b, owner.Token)
	// Two groups, each cached on B by a first message through it: each
	// check below is the first send through B after the change, since any
	// message B stores refreshes its list.
	group := func(name string) string {
		t.Helper()
		g, err := a.CreateGroup(ctx, ownerA, name, []string{back.ID, demoted.ID})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.SetRole(ctx, ownerA, g.ID, demoted.ID, "admin"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.Send(ctx, ownerB, g.ID, service.SendInput{ClientID: "fill-" + name, Kind: "text", Text: "hello"}); err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	quoted, all := group("quote"), group("all")

	// On A: one member is taken out, a message is sent without them, and
	// they are added back; in the other group an admin becomes a member.
	if err := a.RemoveMember(ctx, ownerA, quoted, back.ID); err != nil {
		t.Fatal(err)
	}
	secret, _, err := a.Send(ctx, ownerA, quoted, service.SendInput{ClientID: "secret", Kind: "text", Text: "said while they were out"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddMembers(ctx, ownerA, quoted, []string{back.ID}); err != nil {
		t.Fatal(err)
	}
	if err := a.SetRole(ctx, ownerA, all, demoted.ID, "member"); err != nil {
		t.Fatal(err)
	}

	m, _, err := b.Send(ctx, auth(b, back.Token), quoted, service.SendInput{ClientID: "quote", Kind: "text", Text: "what was that?", ReplyTo: secret.Seq})
	switch {
	case err == nil && m.ReplyTo != nil && m.ReplyTo.Preview != "":
		t.Errorf("R-MSG-2: through the stale node, someone added back quoted a message sent while they were out and was shown %q; want not_found", m.ReplyTo.Preview)
	case err == nil:
		t.Errorf("R-MSG-2: through the stale node, someone added back quoted a message sent while they were out; want not_found")
	case tkesj.ErrorKindOf(err) != tkesj.ENotFound:
		t.Errorf("quoting a message from before one's return: %v, want not_found", err)
	}
	if _, _, err := b.Send(ctx, auth(b, demoted.Token), all, service.SendInput{ClientID: "all", Kind: "text", Text: "everyone!", MentionAll: true}); tkesj.ErrorKindOf(err) != tkesj.EForbidden {
		t.Errorf("R-MSG-7: through the stale node, a former admin's mention of everyone: %v, want forbidden", err)
	}
	// The same sends through A, which made the changes, are refused.
	if _, _, err := a.Send(ctx, auth(a, back.Token), quoted, service.SendInput{ClientID: "quote-a", Kind: "text", Text: "what was that?", ReplyTo: secret.Seq}); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("through the node that made the change, quoting a message from before one's return: %v, want not_found", err)
	}
	if _, _, err := a.Send(ctx, auth(a, demoted.Token), all, service.SendInput{ClientID: "all-a", Kind: "text", Text: "everyone!", MentionAll: true}); tkesj.ErrorKindOf(err) != tkesj.EForbidden {
		t.Errorf("through the node that made the change, a former admin's mention of everyone: %v, want forbidden", err)
	}
}

// TestLeavingGroupsBesideAGroupCommit (issue 17; R-DEL, PostgreSQL): an
// account's destruction takes the person out of each of their groups in
// one transaction (messaging.leaveConversations), and since schema 0056
// each removal takes the conversation's row (BumpMemberVersion, then the
// member_version trigger), one group after another. A group commit takes
// the rows of the conversations its messages go to, in the order they came.
// When the two meet in opposite orders PostgreSQL breaks the deadlock by
// failing one; the destruction, which waited first, is the one failed
// (the account is not destroyed, and the person is told it failed). The
// test runs the two transactions' statements in that interleaving: the
// destruction's must commit.
func TestLeavingGroupsBesideAGroupCommit(t *testing.T) {
	base := os.Getenv("TKESJ_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("TKESJ_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	db := openPostgres(t, base)
	keys := testKeys(t)
	svc := testNode(t, db, keys, nil)
	users, err := svc.SeedUsers(ctx, 3, "dl", 0, "a good long password")
	if err != nil {
		t.Fatal(err)
	}
	owner, sender, leaving := users[0], users[1], users[2]
	if err := svc.SeedFriends(ctx, [][2]string{{owner.ID, sender.ID}, {owner.ID, leaving.ID}}); err != nil {
		t.Fatal(err)
	}
	oa, err := svc.Authenticate(ctx, owner.Token)
	if err != nil {
		t.Fatal(err)
	}
	var groups [2]string
	for i := range groups {
		g, err := svc.CreateGroup(ctx, oa, fmt.Sprint("dl", i), []string{sender.ID, leaving.ID})
		if err != nil {
			t.Fatal(err)
		}
		groups[i] = g.ID
	}
	msg := func(conv, client string) store.MessageRecord {
		return store.MessageRecord{ConvID: conv, ID: "m" + client, SenderID: sender.ID, ClientID: client, Kind: "text", Body: []byte("sealed"), SentAt: time.Now()}
	}
	took2, took1 := make(chan struct{}), make(chan struct{})
	commitErr := make(chan error, 1)
	go func() {
		// The group commit: a message to the second group, then one to the
		// first (retried, as the writer retries a failed batch).
		first := true
		commitErr <- db.Update(ctx, func(q *store.Queries) error {
			if _, _, _, err := q.AppendMessage(ctx, msg(groups[1], fmt.Sprint("dl-b-", first))); err != nil {
				return err
			}
			if first {
				first = false
				close(took2)
				<-took1
				time.Sleep(200 * time.Millisecond) // the destruction waits first
			}
			_, _, _, err := q.AppendMessage(ctx, msg(groups[0], fmt.Sprint("dl-a-", first)))
			return err
		})
	}()
	<-took2
	closeTook1 := sync.OnceFunc(func() { close(took1) })
	err = db.UpdateRetrying(ctx, func(q *store.Queries) error {
		// leaveConversations' statements, group by group.
		for i, g := range groups {
			if err := q.BumpMemberVersion(ctx, g); err != nil {
				return err
			}
			if _, err := q.RemoveMember(ctx, g, leaving.ID); err != nil {
				return err
			}
			if i == 0 {
				closeTook1() // the first run only: a retry finds it closed
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("leaving one's groups beside a group commit that holds them in the other order: %v", err)
	}
	if err := <-commitErr; err != nil {
		// The writer runs a failed batch again, each write in its savepoint.
		t.Logf("the group commit: %v", err)
	}
}
