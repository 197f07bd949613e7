package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// walSize is the size of path's write-ahead log, written out first.
func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// Issue 17: a commit's WAL frames reach the file in a few writes instead of
// two per page, and nothing committed is missing for anyone who reads it:
// another connection (the reader pool) sees a relaxed commit, which never
// syncs, at once, and the database checks whole after a reopen.
func TestWALFramesGatheredAndVisible(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tkesj.db")
	db, _, err := open(ctx, path, 2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Another reader, through SQLite's own VFS: it learns of commits only
	// from the WAL index, so it finds any frame published before written.
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	insert := func(update func(context.Context, func(*store.Queries) error) error, from, n int) {
		t.Helper()
		if err := update(ctx, func(q *store.Queries) error {
			for i := from; i < from+n; i++ {
				u := fmt.Sprintf("u%05d", i)
				// A profile of 1,500 bytes: three rows a page, many pages a commit.
				if err := q.CreateUser(ctx, store.UserRecord{ID: u, UsernameIdx: []byte(u), PhoneIdx: []byte(u), Profile: make([]byte, 1500), Status: "active"}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		t.Helper()
		var n int
		if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	before, writes := walSize(t, path), walWrites.Load()
	insert(db.Update, 0, 300)
	frames := (walSize(t, path) - before) / (4096 + 24)
	if got := walWrites.Load() - writes; frames < 50 || got > 4 {
		t.Errorf("a commit of %d WAL frames took %d writes; want them gathered into at most 4", frames, got)
	}
	if n := count(); n != 300 {
		t.Errorf("another connection sees %d users after a synced commit, want 300", n)
	}
	// A relaxed commit does not sync: the frames must be in the file by the
	// time the commit is published to other connections (xShmBarrier).
	insert(db.UpdateRelaxed, 300, 300)
	if n := count(); n != 600 {
		t.Errorf("another connection sees %d users after a relaxed commit, want 600", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, _, err = open(ctx, path, 2, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := raw.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check after reopening = %q, %v", check, err)
	}
	if n := count(); n != 600 {
		t.Errorf("after reopening: %d users, want 600", n)
	}
}
