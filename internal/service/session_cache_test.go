package service_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/bus/inmem"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/store/sqlite"
)

// TestEndedSessionOutlivesNoTouch (issue 17, R-DEV-1: sessions come from
// memory): a node that never heard of a sign-out (its bus lost the event)
// serves its cached copy of the session until the session is next due a
// touch, and no longer: the touch finds the session gone and the request is
// refused, where the cached copy used to be kept for another minute.
func TestEndedSessionOutlivesNoTouch(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tkesj.db"), 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys := testKeys(t)
	node := func() *service.Service {
		bus := inmem.New(0) // a bus of its own: neither node hears the other
		t.Cleanup(func() { bus.Close() })
		svc := testNode(t, db, keys, bus)
		return svc
	}
	a, b := node(), node()
	users, err := a.SeedUsers(ctx, 1, "touch", 0, "a good long password")
	if err != nil {
		t.Fatal(err)
	}
	tok := users[0].Token
	auth, err := a.Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, tok); err != nil {
		t.Fatalf("node b before the sign-out: %v", err)
	}
	if err := a.Logout(ctx, auth); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, tok); !errors.Is(err, kernel.ErrBadToken) {
		t.Errorf("node a after its own sign-out: %v, want a bad token", err)
	}
	// Node b's copy is within its time; once the session is due a touch
	// (SessionTouchStep, a minute) the touch finds it ended.
	later := time.Now().UTC().Add(2 * time.Minute)
	b.SetClock(func() time.Time { return later })
	if _, err := b.Authenticate(ctx, tok); !errors.Is(err, kernel.ErrBadToken) {
		t.Errorf("node b, which missed the sign-out, once the session is due a touch: %v, want a bad token", err)
	}
	if _, err := b.Authenticate(ctx, tok); !errors.Is(err, kernel.ErrBadToken) {
		t.Errorf("node b, the request after: %v, want a bad token", err)
	}
}
