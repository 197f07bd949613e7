package messaging

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/postgres"
	"github.com/tkesj/tkesj/internal/store/sqlite"
	"github.com/tkesj/tkesj/internal/testkit"
)

// TestQueuedWriteOutlivesItsClient: a client whose request is cancelled
// after its write was queued fails neither its own write nor the others in
// the same group commit (nothing acknowledged is lost; R-MSG-2). On
// PostgreSQL a statement run on a cancelled context ends the connection, so
// before writes ran on a detached context this failed the whole batch.
func TestQueuedWriteOutlivesItsClient(t *testing.T) {
	t.Run("on SQLite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "w.db"), 1)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		checkQueuedWriteOutlivesItsClient(t, db)
	})
	t.Run("on PostgreSQL", func(t *testing.T) {
		base := os.Getenv("TKESJ_TEST_POSTGRES_URL")
		if base == "" {
			t.Skip("TKESJ_TEST_POSTGRES_URL is not set")
		}
		checkQueuedWriteOutlivesItsClient(t, openPostgres(t, base))
	})
}

func checkQueuedWriteOutlivesItsClient(t *testing.T, db *store.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w := newWriter(db, 1, 16)
	defer w.close()

	// A first write holds the worker until the next two are queued, so those
	// two share one batch.
	// It must be running before they are queued: queued together with
	// them, all three would share one batch. The fn's ctx is detached, so it
	// waits on the test's deadline, not on its own context.
	release, running := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- w.do(ctx, "c", func(fctx context.Context, q *store.Queries) error {
			close(running)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return q.PublishPolicy(fctx, tkesj.Policy{Version: "first", Text: "x", PublishedAt: time.Now()})
		})
	}()
	select {
	case <-running:
	case <-ctx.Done():
		t.Fatal("the first write never ran")
	}

	gone, leave := context.WithCancel(ctx) // the client that goes away
	results := make(chan error, 2)
	go func() {
		results <- w.do(gone, "c", func(ctx context.Context, q *store.Queries) error {
			leave() // the client is gone by the time its statement runs
			return q.PublishPolicy(ctx, tkesj.Policy{Version: "gone", Text: "x", PublishedAt: time.Now()})
		})
	}()
	go func() {
		results <- w.do(ctx, "c", func(ctx context.Context, q *store.Queries) error {
			return q.PublishPolicy(ctx, tkesj.Policy{Version: "stays", Text: "x", PublishedAt: time.Now()})
		})
	}()
	for len(w.in[0]) < 2 {
		if ctx.Err() != nil {
			close(release)
			t.Fatal("the two writes were never queued")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first write = %v", err)
	}
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("a write in the batch with a cancelled client = %v, want nil", err)
		}
	}
	if batches, writes := w.stats(); batches != 2 || writes != 3 {
		t.Errorf("stats = %d batches, %d writes; want the two queued writes in one batch (2, 3)", batches, writes)
	}
	for _, v := range []string{"first", "gone", "stays"} {
		if _, err := db.Read().FindPolicy(ctx, v); err != nil {
			t.Errorf("policy %q after the batch: %v; want it stored", v, err)
		}
	}
}

// TestShardedWritersNeverDeadlock (issue 17: several writers on
// PostgreSQL): sends to many conversations from many clients at once, four
// group-commit workers. A batch takes its conversations' rows in the order
// its messages came, so workers sharing conversations would deadlock
// (PostgreSQL fails one: a send answered 500); each conversation's writes
// go through one worker, and every send is stored, in its chat's order.
func TestShardedWritersNeverDeadlock(t *testing.T) {
	base := os.Getenv("TKESJ_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("TKESJ_TEST_POSTGRES_URL is not set")
	}
	db := openPostgres(t, base)
	ctx := context.Background()
	now := time.Now()
	const convs, clients, each = 8, 16, 40
	if err := db.Update(ctx, func(q *store.Queries) error {
		for i := range clients {
			u := fmt.Sprint("u", i)
			if err := q.CreateUser(ctx, store.UserRecord{ID: u, UsernameIdx: []byte(u), PhoneIdx: []byte(u), Profile: []byte("s"), Status: "active"}); err != nil {
				return err
			}
		}
		for c := range convs {
			id := fmt.Sprint("c", c)
			if err := q.CreateConversation(ctx, store.ConversationRecord{ID: id, Kind: "group", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			for i := range clients {
				if err := q.AddMember(ctx, store.MemberRecord{ConvID: id, UserID: fmt.Sprint("u", i), Role: "member", JoinedAt: now}); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w := newWriter(db, 4, 16)
	defer w.close()
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				conv := fmt.Sprint("c", (i+k*3)%convs)
				m := store.MessageRecord{ConvID: conv, ID: fmt.Sprint("m", i, "-", k), SenderID: fmt.Sprint("u", i), ClientID: fmt.Sprint(i, "-", k),
					Kind: "text", Body: []byte("sealed"), SentAt: now}
				errs <- w.do(ctx, conv, func(ctx context.Context, q *store.Queries) error {
					_, _, ok, err := q.AppendMessage(ctx, m)
					if err == nil && !ok {
						err = fmt.Errorf("%s not stored", m.ID)
					}
					return err
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			if failed++; failed <= 3 {
				t.Errorf("a send failed: %v", err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d sends failed", failed, clients*each)
	}
	var stored int64
	for c := range convs {
		conv, err := db.Read().FindConversation(ctx, fmt.Sprint("c", c))
		if err != nil {
			t.Fatal(err)
		}
		stored += conv.LastSeq
	}
	if stored != clients*each {
		t.Errorf("%d messages took a seq, want %d", stored, clients*each)
	}
}

// openPostgres is a store in a schema of its own, dropped after the test.
func openPostgres(t *testing.T, base string) *store.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), testkit.PostgresSchema(t, base, "msg_writer"), 4)
	if err != nil {
		t.Fatalf("open PostgreSQL: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
