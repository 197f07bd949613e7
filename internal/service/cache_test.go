package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/bus/inmem"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/postgres"
	"github.com/tkesj/tkesj/internal/store/sqlite"
	"github.com/tkesj/tkesj/internal/testkit"
)

// deliveries records who each message frame published on a bus was for.
type deliveries struct {
	mu    sync.Mutex
	users map[string][]string // message id → users
	got   chan struct{}
}

func record(t *testing.T, bus *inmem.Bus) *deliveries {
	d := &deliveries{users: map[string][]string{}, got: make(chan struct{}, 64)}
	unsub, err := bus.Subscribe(func(e tkesj.Event) {
		var f struct {
			Type    string `json:"type"`
			Message struct {
				ID string `json:"id"`
			} `json:"message"`
		}
		if e.Control != "" || json.Unmarshal(e.Frame, &f) != nil || f.Type != "message" {
			return
		}
		d.mu.Lock()
		d.users[f.Message.ID] = append(d.users[f.Message.ID], e.Users...)
		d.mu.Unlock()
		d.got <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unsub)
	return d
}

// of waits for the frame of message id and returns who it went to.
func (d *deliveries) of(t *testing.T, id string) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		d.mu.Lock()
		users, ok := d.users[id]
		d.mu.Unlock()
		if ok {
			slices.Sort(users)
			return users
		}
		select {
		case <-d.got:
		case <-deadline:
			t.Fatalf("message %s was not published within 10 s", id)
		}
	}
}

// TestStaleMemberListNeverUsed (issue 17; R-MSG-2, R-MSG-4): two nodes on
// one store, each with a bus of its own, so node B never hears that node A
// changed a group. B has the group's members cached from a first message;
// after A removes one member and adds another, B's next message must reach
// the new member and not the removed one: the member version read with
// the message, not the bus, decides whether B's list is still the list.
func TestStaleMemberListNeverUsed(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "c.db"), 2)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		checkStaleMemberList(t, db)
	})
	t.Run("on PostgreSQL", func(t *testing.T) {
		base := os.Getenv("TKESJ_TEST_POSTGRES_URL")
		if base == "" {
			t.Skip("TKESJ_TEST_POSTGRES_URL is not set")
		}
		checkStaleMemberList(t, openPostgres(t, base))
	})
}

func checkStaleMemberList(t *testing.T, db *store.DB) {
	ctx := context.Background()
	keys := testKeys(t)
	node := func() (*service.Service, *deliveries) {
		bus := inmem.New(0)
		t.Cleanup(func() { bus.Close() })
		seen := record(t, bus)
		svc := testNode(t, db, keys, bus)
		return svc, seen
	}
	a, _ := node()
	b, onB := node()

	users, err := a.SeedUsers(ctx, 4, "cache", 0, "a good long password")
	if err != nil {
		t.Fatal(err)
	}
	owner, stays, removed, joins := users[0], users[1], users[2], users[3]
	if err := a.SeedFriends(ctx, [][2]string{{owner.ID, stays.ID}, {owner.ID, removed.ID}, {owner.ID, joins.ID}}); err != nil {
		t.Fatal(err)
	}
	auth := func(svc *service.Service, u string) kernel.Auth {
		t.Helper()
		au, err := svc.Authenticate(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return au
	}
	onA, onBAuth := auth(a, owner.Token), auth(b, owner.Token)
	g, err := a.CreateGroup(ctx, onA, "cache test", []string{stays.ID, removed.ID})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sendOnB := func() []string {
		t.Helper()
		n++
		m, _, err := b.Send(ctx, onBAuth, g.ID, service.SendInput{ClientID: "cache-" + string(rune('a'+n)), Kind: "text", Text: "hello"})
		if err != nil {
			t.Fatal(err)
		}
		return onB.of(t, m.ID)
	}
	want := func(what string, got []string, ids ...string) {
		t.Helper()
		slices.Sort(ids)
		if !slices.Equal(got, ids) {
			t.Errorf("%s went to %v, want %v", what, got, ids)
		}
	}
	want("the first message, through B", sendOnB(), owner.ID, stays.ID, removed.ID)

	if err := a.RemoveMember(ctx, onA, g.ID, removed.ID); err != nil {
		t.Fatal(err)
	}
	want("the message after a removal on A", sendOnB(), owner.ID, stays.ID)
	// B's list still names them for its send check: the store refuses them.
	if _, _, err := b.Send(ctx, auth(b, removed.Token), g.ID, service.SendInput{ClientID: "removed-1", Kind: "text", Text: "still here?"}); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		t.Errorf("a removed member's send through B: %v, want not_found", err)
	}
	if _, err := a.AddMembers(ctx, onA, g.ID, []string{joins.ID}); err != nil {
		t.Fatal(err)
	}
	// B's list does not name them yet: B asks the store.
	if m, _, err := b.Send(ctx, auth(b, joins.Token), g.ID, service.SendInput{ClientID: "joined-1", Kind: "text", Text: "hi all"}); err != nil {
		t.Errorf("a new member's first send through B: %v", err)
	} else {
		want("the new member's first message, through B", onB.of(t, m.ID), owner.ID, stays.ID, joins.ID)
	}
	want("the message after a join on A", sendOnB(), owner.ID, stays.ID, joins.ID)
	want("the next one, from B's refreshed list", sendOnB(), owner.ID, stays.ID, joins.ID)
	if err := a.RemoveMember(ctx, auth(a, stays.Token), g.ID, stays.ID); err != nil {
		t.Fatal(err)
	}
	want("the message after someone left on A", sendOnB(), owner.ID, joins.ID)
}

// TestDirectSendCheckFollowsBlocks (issue 17; R-MSG-1): a direct chat's
// send check is kept in memory once a message went through, and a block or
// an ended friendship drops it: at once on the node that made the change,
// and on the other node as soon as the bus brings the invalidation there.
func TestDirectSendCheckFollowsBlocks(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys := testKeys(t)
	bus := inmem.New(0) // one bus: two nodes of one deployment
	t.Cleanup(func() { bus.Close() })
	node := func() *service.Service {
		svc := testNode(t, db, keys, bus)
		return svc
	}
	a, b := node(), node()
	users, err := a.SeedUsers(ctx, 2, "block", 0, "a good long password")
	if err != nil {
		t.Fatal(err)
	}
	from, to := users[0], users[1]
	auth := func(svc *service.Service, u string) kernel.Auth {
		t.Helper()
		au, err := svc.Authenticate(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return au
	}
	if err := a.SeedFriends(ctx, [][2]string{{from.ID, to.ID}}); err != nil {
		t.Fatal(err)
	}
	chat := conv(t, a, auth(a, from.Token), to.ID)
	n := 0
	send := func(svc *service.Service) error {
		n++
		_, _, err := svc.Send(ctx, auth(svc, from.Token), chat, service.SendInput{ClientID: fmt.Sprint("block-", n), Kind: "text", Text: "hello"})
		return err
	}
	refusedOnB := func(what, code string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := send(b)
			if tkesj.ErrorCode(err) == code {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: a send through the other node still gets %v 5 s later, want %s", what, err, code)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, tc := range []struct {
		what, code string
		end        func() error
		restore    func() error
	}{
		{"a block", "blocked",
			func() error { return a.Block(ctx, auth(a, to.Token), from.ID) },
			func() error {
				if err := a.Unblock(ctx, auth(a, to.Token), from.ID); err != nil {
					return err
				}
				return a.SeedFriends(ctx, [][2]string{{from.ID, to.ID}})
			}},
		{"an ended friendship", "not_friends",
			func() error { return a.RemoveContact(ctx, auth(a, to.Token), from.ID) },
			func() error { return a.SeedFriends(ctx, [][2]string{{from.ID, to.ID}}) }},
	} {
		// Both nodes have the check cached.
		for _, svc := range []*service.Service{a, b} {
			if err := send(svc); err != nil {
				t.Fatalf("before %s: %v", tc.what, err)
			}
		}
		if err := tc.end(); err != nil {
			t.Fatal(err)
		}
		if err := send(a); tkesj.ErrorCode(err) != tc.code {
			t.Errorf("right after %s, a send through the same node: %v, want %s", tc.what, err, tc.code)
		}
		refusedOnB(tc.what, tc.code)
		if err := tc.restore(); err != nil {
			t.Fatal(err)
		}
	}
}

// conv is the direct chat of a's caller with peer.
func conv(t *testing.T, svc *service.Service, a kernel.Auth, peer string) string {
	t.Helper()
	c, _, err := svc.CreateDirect(context.Background(), a, peer)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// openPostgres is a store in a schema of its own, dropped after the test.
func openPostgres(t *testing.T, base string) *store.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), testkit.PostgresSchema(t, base, "svc_cache"), 4)
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
