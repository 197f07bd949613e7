// Package sqlite opens the embedded SQLite store (the default backend): one
// writer connection so writers never meet "database is locked", and a pool of
// read-only connections that WAL lets run beside it. It holds only the driver
// and the error mapping; the queries live in package store and the schema in
// package schema.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/schema"
)

// Migrations returns the schema scripts, which SQLite takes as written.
func Migrations() fs.FS { return schema.SQLite() }

var dialect = &store.Dialect{
	Name:              "sqlite",
	PrepareStatements: true,
	IsUnique: func(err error) bool {
		var e *sqlite.Error
		if errors.As(err, &e) {
			return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
		}
		return false
	},
}

// Open opens (creating if needed) the database file at path and applies the
// migrations. readers is the size of the reader pool (4 when <= 0).
func Open(ctx context.Context, path string, readers int) (*store.DB, error) {
	db, _, err := open(ctx, path, readers, CheckpointEvery)
	return db, err
}

func open(ctx context.Context, path string, readers int, checkpointEvery time.Duration) (*store.DB, *checkpointer, error) {
	if readers <= 0 {
		readers = 4
	}
	// The database holds only sealed personal data, but it is still nobody
	// else's business: create it private.
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	// synchronous(FULL): a message acknowledged to its sender survives a power
	// cut, not only a process crash. Group commit pays for it (messaging).
	// secure_delete(1): a deleted row's bytes (an expired, recalled or
	// purged message) are zeroed, not left in free pages (R-MSG-10).
	pragmas := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=secure_delete(1)&_txlock=immediate"
	// vfs: every connection writes its WAL through walVFS (walvfs.go), which
	// gathers a commit's frames into one write.
	if err := registerWALVFS(); err != nil {
		return nil, nil, err
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?vfs=" + walVFS + "&" + pragmas
	// The writer never checkpoints: the checkpointer does, off the commit path.
	// temp_store(MEMORY): a statement that may fail half-way (a multi-row
	// insert, a foreign key checked at its end) journals the pages it
	// touches first; in a temporary file that was a pwrite per page, 5 %
	// of B2's server CPU once search indexing wrote its batches (issue 17).
	// cache_size(-16384): 16 MiB of page cache instead of 2, so a group
	// commit or an index batch does not spill dirty pages to the WAL
	// before it commits.
	w, err := sql.Open("sqlite", dsn+"&_pragma=wal_autocheckpoint(0)&_pragma=temp_store(2)&_pragma=cache_size(-16384)")
	if err != nil {
		return nil, nil, fmt.Errorf("open sqlite writer: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := store.New(w, w, dialect)
	if err := db.Migrate(ctx, Migrations()); err != nil {
		w.Close()
		return nil, nil, err
	}
	// The search index, in a file of its own (searchindex.go), which the
	// readers attach.
	idx, err := openSearch(ctx, SearchPath(path), w)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	r, err := attachingReaders(dsn + "&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		idx.Close()
		return nil, nil, fmt.Errorf("open sqlite readers: %w", err)
	}
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	r.SetConnMaxIdleTime(0)
	cp, err := startCheckpointer(dsn, checkpointEvery)
	if err != nil {
		w.Close()
		r.Close()
		idx.Close()
		return nil, nil, err
	}
	s := store.New(w, r, dialect)
	s.OnClose(cp.close)
	s.UseSearchIndex(idx)
	return s, cp, nil
}
