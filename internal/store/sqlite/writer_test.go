package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// TestCommitsNeverCheckpoint: commits leave the WAL to the checkpointer, so
// no message's group commit waits for the WAL to be copied into the database
// file (issue 17: the automatic checkpoint ran inside one commit per 1,000
// pages); the checkpointer then copies it, and the data reads back after a
// reopen.
func TestCommitsNeverCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tkesj.db")
	db, cp, err := open(ctx, path, 2, time.Hour) // checkpoints only when the test asks
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before := fileSize(t, path)
	// ~6 MB in 60 commits: three times the automatic checkpoint's 1,000 pages.
	text := strings.Repeat("x", 100_000)
	for i := range 60 {
		v := tkesj.Policy{Version: "v" + string(rune('A'+i%26)) + string(rune('a'+i/26)), Text: text, PublishedAt: time.Now()}
		if err := db.Update(ctx, func(q *store.Queries) error { return q.PublishPolicy(ctx, v) }); err != nil {
			t.Fatal(err)
		}
	}
	if got := fileSize(t, path); got != before {
		t.Fatalf("database file went from %d to %d bytes during the commits: a commit checkpointed", before, got)
	}
	if wal := fileSize(t, path+"-wal"); wal < 5_000_000 {
		t.Fatalf("WAL is %d bytes after 6 MB of commits; want them all there", wal)
	}
	copied, err := cp.checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if copied < 1400 {
		t.Errorf("the checkpointer copied %d frames; want the ~1,500 pages of the commits", copied)
	}
	if got := fileSize(t, path); got < before+5_000_000 {
		t.Errorf("database file is %d bytes after the checkpoint (was %d); want the 6 MB in it", got, before)
	}
	if _, err := db.Read().FindPolicy(ctx, "vAa"); err != nil {
		t.Errorf("FindPolicy after the checkpoint = %v", err)
	}
}

// TestCheckpointerRunsOnItsOwn: left alone, the checkpointer copies the WAL
// within a few of its rounds, and Close stops it.
func TestCheckpointerRunsOnItsOwn(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tkesj.db")
	db, cp, err := open(ctx, path, 2, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(q *store.Queries) error {
		return q.PublishPolicy(ctx, tkesj.Policy{Version: "one", Text: strings.Repeat("y", 50_000), PublishedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for cp.rounds.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint copied the commit within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := cp.db.Ping(); err == nil {
		t.Error("the checkpointer's connection still answers after Close")
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestWriterKeepsItsStatements: a statement a write transaction prepared is
// reused by the next transactions, in Update and in group commits alike,
// instead of being prepared again in each (issue 17).
func TestWriterKeepsItsStatements(t *testing.T) {
	ctx := context.Background()
	db, _, err := open(ctx, filepath.Join(t.TempDir(), "tkesj.db"), 2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	publish := func(v string) func(q *store.Queries) error {
		return func(q *store.Queries) error {
			return q.PublishPolicy(ctx, tkesj.Policy{Version: v, Text: "x", PublishedAt: time.Now()})
		}
	}
	if err := db.Update(ctx, publish("first")); err != nil {
		t.Fatal(err)
	}
	warm := db.WriterPrepares()
	if warm == 0 {
		t.Fatal("the first transaction prepared nothing; the test would prove nothing")
	}
	for i := range 5 {
		if err := db.Update(ctx, publish(fmt.Sprint("u", i))); err != nil {
			t.Fatal(err)
		}
		for _, err := range db.UpdateBatch(ctx, []func(*store.Queries) error{publish(fmt.Sprint("b", i)), publish(fmt.Sprint("c", i))}) {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := db.WriterPrepares(); got != warm {
		t.Errorf("statements prepared in transactions: %d after the first, %d after 10 more; want no more", warm, got)
	}
	for _, v := range []string{"first", "u4", "b4", "c4"} {
		if _, err := db.Read().FindPolicy(ctx, v); err != nil {
			t.Errorf("FindPolicy(%q) = %v", v, err)
		}
	}
}
