package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"modernc.org/sqlite"

	"github.com/tkesj/tkesj/internal/store"
)

// The search index's own file (issue 17; store/searchfile.go says why).
// SearchPath(tkesj.db) is tkesj-search.db beside it. It holds only data
// derived from the messages (keyed token hashes, and the rowid of the last
// message indexed), so it is never backed up, and whatever is wrong with it
// at open (missing, not a database, from another schema version) is
// answered by building it again: the file is removed and created empty at
// position 0, and the indexer reads the whole log again in the background.
//
// What a crash can leave: its writer commits a pass's rows together with
// the position (WAL, synchronous NORMAL for passes), so a process crash or
// a power cut takes back whole passes, which are read again from the
// position; a pass's rows are written with INSERT OR IGNORE, so nothing is
// lost or doubled. Deletions asked for by the message store commit with
// synchronous FULL before the request leaves search_unindex, so a power
// cut cannot leave a request gone with its rows still here.

// SearchPath is the index file of the message database at path.
func SearchPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + "-search.db"
}

// searchSchemaVersion is the index file's schema; a file of another
// version is built again.
const searchSchemaVersion = 2

var searchSchema = []string{
	// pos is the rowid of the last message read, and conv_id and seq that
	// message, to check the rowids against at open (NULL: not known).
	`CREATE TABLE IF NOT EXISTS search_state (version INTEGER NOT NULL, pos INTEGER NOT NULL, conv_id TEXT, seq INTEGER)`,
	// The index as posting lists per batch (store/postings.go; schema
	// 0061 makes the same tables on PostgreSQL).
	`CREATE TABLE IF NOT EXISTS search_batches (
		batch INTEGER PRIMARY KEY,
		msgs  BLOB NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS search_postings (
		token BLOB NOT NULL,
		batch INTEGER NOT NULL,
		items BLOB NOT NULL,
		PRIMARY KEY (token, batch)
	) WITHOUT ROWID`,
	`CREATE TABLE IF NOT EXISTS search_message_tokens (
		conv_id TEXT NOT NULL,
		seq     INTEGER NOT NULL,
		sent_at INTEGER NOT NULL,
		batch   INTEGER NOT NULL,
		item    INTEGER NOT NULL,
		tokens  BLOB NOT NULL,
		PRIMARY KEY (conv_id, seq)
	) WITHOUT ROWID`,
	fmt.Sprintf(`INSERT INTO search_state (version, pos) SELECT %d, 0 WHERE NOT EXISTS (SELECT 1 FROM search_state)`, searchSchemaVersion),
}

var searchDialect = &store.Dialect{
	Name:              "sqlite",
	PrepareStatements: true,
	IsUnique:          dialect.IsUnique,
}

// openSearch opens the index file at path, building it again when it is
// missing or unusable.
func openSearch(ctx context.Context, path string, messages *sql.DB) (*store.DB, error) {
	db, err := tryOpenSearch(ctx, path, messages)
	if err == nil {
		return db, nil
	}
	// Derived data: start again rather than fail the server.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if rerr := os.Remove(path + suffix); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return nil, fmt.Errorf("search index %s unusable (%v), and removing it failed: %w", path, err, rerr)
		}
	}
	return tryOpenSearch(ctx, path, messages)
}

// tryOpenSearch opens the index file at path for the message database
// messages, and fails when it is unusable or follows other rowids.
func tryOpenSearch(ctx context.Context, path string, messages *sql.DB) (*store.DB, error) {
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	// synchronous(FULL) by default, for the deletions; passes commit with
	// NORMAL (store.UpdateRelaxed). secure_delete(1): a removed message's
	// token hashes are zeroed on disk too (R-MSG-10, R-DEL-4).
	// vfs: as the message database, the WAL's frames gathered into one
	// write (walvfs.go).
	if err := registerWALVFS(); err != nil {
		return nil, err
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?vfs=" + walVFS + "&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=secure_delete(1)&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn+"&_pragma=temp_store(2)&_pragma=cache_size(-16384)")
	if err != nil {
		return nil, fmt.Errorf("open search index: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	fail := func(err error) (*store.DB, error) {
		w.Close()
		return nil, err
	}
	for _, stmt := range searchSchema {
		if _, err := w.ExecContext(ctx, stmt); err != nil {
			return fail(fmt.Errorf("search index schema: %w", err))
		}
	}
	var version int
	if err := w.QueryRowContext(ctx, `SELECT version FROM search_state`).Scan(&version); err != nil {
		return fail(fmt.Errorf("search index state: %w", err))
	}
	if version != searchSchemaVersion {
		return fail(fmt.Errorf("search index schema version %d, want %d", version, searchSchemaVersion))
	}
	// The message the position names must still have that rowid: a VACUUM
	// of tkesj.db, or a restore, renumbers them, and the index would then
	// skip messages for good. (One deleted since is fine: its removal is in
	// search_unindex.)
	var pos int64
	var conv sql.NullString
	var seq sql.NullInt64
	if err := w.QueryRowContext(ctx, `SELECT pos, conv_id, seq FROM search_state`).Scan(&pos, &conv, &seq); err != nil {
		return fail(fmt.Errorf("search index state: %w", err))
	}
	if conv.Valid && pos > 0 {
		var c string
		var s int64
		err := messages.QueryRowContext(ctx, `SELECT conv_id, seq FROM messages WHERE rowid = ?`, pos).Scan(&c, &s)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fail(fmt.Errorf("check the search index's position: %w", err))
		}
		if err == nil && (c != conv.String || s != seq.Int64) {
			return fail(fmt.Errorf("search index follows other rowids (message %d is %s/%d, not %s/%d)", pos, c, s, conv.String, seq.Int64))
		}
	}
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		return fail(fmt.Errorf("open search index reader: %w", err))
	}
	r.SetMaxOpenConns(1)
	r.SetMaxIdleConns(1)
	r.SetConnMaxIdleTime(0)
	return store.New(w, r, searchDialect), nil
}

// attachDriver is the driver of the message database's readers: each of
// its connections attaches the index file (read-only, as the reader is),
// so a search reads the index and the messages through one connection as on
// PostgreSQL. The writer never attaches it: BEGIN IMMEDIATE would take the
// index file's write lock with the messages'.
const attachDriver = "sqlite-search-attached"

var registerAttach sync.Once

func attachingReaders(dsn string) (*sql.DB, error) {
	registerAttach.Do(func() {
		d := &sqlite.Driver{}
		d.RegisterConnectionHook(func(c sqlite.ExecQuerierContext, dsn string) error {
			path, err := dsnPath(dsn)
			if err != nil {
				return err
			}
			uri := "file:" + (&url.URL{Path: SearchPath(path)}).EscapedPath() + "?vfs=" + walVFS
			_, err = c.ExecContext(context.Background(), `ATTACH DATABASE ? AS search`, []driver.NamedValue{{Ordinal: 1, Value: uri}})
			return err
		})
		sql.Register(attachDriver, d)
	})
	return sql.Open(attachDriver, dsn)
}

// dsnPath is the file path of a DSN this package made.
func dsnPath(dsn string) (string, error) {
	p, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	return url.PathUnescape(p)
}
