// Package store is the backend-neutral storage layer: every query tkesj makes,
// written once over database/sql. The sqlite and postgres packages below it hold
// only what differs: the driver, the schema (migrations) and the error mapping.
//
// The store never sees plaintext personal data. Personal fields arrive sealed
// by the keyring, and look-ups go through keyed hashes ("…_idx" columns). Only
// the service layer may import this package.
//
// Reads go through DB.Read (a pool of readers); every write goes through
// DB.Update, which runs one transaction on the writer. SQLite has a single
// writer connection, so writers queue in Go instead of meeting "database is
// locked".
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj"
)

// Dialect is what a backend tells the shared code about itself.
type Dialect struct {
	Name string // "sqlite" or "postgres"
	// Placeholders is true when the backend numbers its parameters ($1, $2);
	// queries are written with ? and rebound once, when first used.
	Placeholders bool
	// IsUnique reports whether err is a unique-constraint violation.
	IsUnique func(err error) bool
	// IsConflict reports whether the database failed the transaction to
	// break a deadlock or a serialization conflict, so that running it
	// again may succeed; nil when the backend never does (SQLite has one
	// writer).
	IsConflict func(err error) bool
	// Lock serialises migrations between processes (PostgreSQL advisory lock);
	// nil when the backend needs none.
	Lock func(ctx context.Context, tx *sql.Tx) error
	// PrepareStatements caches prepared statements per query text.
	PrepareStatements bool
}

// DB is an open store.
type DB struct {
	w, r *sql.DB
	d    *Dialect
	// Prepared statements of the reader pool, when the dialect wants them
	// (SQLite re-parses every statement otherwise; pgx caches its own).
	rStmts *stmtCache
	// Statements of the writer connection, kept across transactions (SQLite,
	// whose writer pool is one connection); nil: none.
	wStmts *writerStmts
	// observe, when set, hears the name of the exported Queries method
	// behind every statement (see Observe).
	observe func(method string)
	// closers run first in Close (a backend's background work, such as
	// SQLite's checkpointer).
	closers []func() error
	// statements counts the SQL statements this store ran (Statements).
	statements atomic.Uint64
	// foreground counts the ordinary writes (Update, UpdateBatch) waiting
	// for or holding the writer; UpdateRelaxed's background work waits
	// for a moment when there are none (relaxed.go).
	foreground atomic.Int32
	// search is the store of the search index when it is a file of its
	// own (SQLite, searchfile.go); nil: this store holds it.
	search *DB
	// indexOnly marks the index file's store: its Queries write index
	// rows without looking at messages, which are in the other file.
	indexOnly bool
}

// New wraps a writer and a reader pool (they may be the same *sql.DB).
func New(writer, reader *sql.DB, d *Dialect) *DB {
	db := &DB{w: writer, r: reader, d: d}
	if d.PrepareStatements {
		db.rStmts = newStmtCache(reader)
		db.wStmts = newWriterStmts(writer)
	}
	return db
}

// Observe makes every statement report the exported Queries method the
// caller called to run it (the outermost one, when methods call each other);
// nil stops it. The conformance suite uses it to prove that every method is
// exercised against every backend; call it before any Read or Update.
func (db *DB) Observe(fn func(method string)) {
	db.observe = fn
	if db.search != nil {
		db.search.observe = fn
	}
}

// Dialect returns the backend's name.
func (db *DB) Dialect() string { return db.d.Name }

// OnClose registers f to run at the start of Close, before the pools close.
// Backends register their background work with it; it is not safe to call
// once the store is in use.
func (db *DB) OnClose(f func() error) { db.closers = append(db.closers, f) }

// Close closes both pools.
func (db *DB) Close() error {
	var err error
	for _, f := range db.closers {
		if cerr := f(); err == nil {
			err = cerr
		}
	}
	db.rStmts.close()
	db.wStmts.close()
	if werr := db.w.Close(); err == nil {
		err = werr
	}
	if db.r != db.w {
		if rerr := db.r.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// Ping checks that the store answers; /healthz uses it.
func (db *DB) Ping(ctx context.Context) error { return db.r.PingContext(ctx) }

// Migrate applies, in order and once each, the files NNNN_name.sql of migrations.
func (db *DB) Migrate(ctx context.Context, migrations fs.FS) error {
	names, err := fs.Glob(migrations, "*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()
	if db.d.Lock != nil {
		if err := db.d.Lock(ctx, tx); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	rows.Close()
	for _, name := range names {
		v, err := strconv.Atoi(strings.SplitN(name, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		}
		if applied[v] {
			continue
		}
		body, err := fs.ReadFile(migrations, name)
		if err != nil {
			return fmt.Errorf("read migration %s: %w", name, err)
		}
		for _, stmt := range splitSQL(string(body)) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migration %s: %w", name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, db.bind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), v, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("record migration %s: %w", name, err)
		}
	}
	return tx.Commit()
}

// splitSQL splits a migration on semicolons that end a line. Migrations hold no
// procedural code, so this is enough.
func splitSQL(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";\n") {
		var lines []string
		for _, l := range strings.Split(part, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
				lines = append(lines, l)
			}
		}
		if stmt := strings.TrimSuffix(strings.TrimSpace(strings.Join(lines, "\n")), ";"); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// bind rewrites ? placeholders to $n for backends that number them.
func (db *DB) bind(q string) string {
	if !db.d.Placeholders {
		return q
	}
	return rebind(q)
}

func rebind(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Queries runs the store's queries on a reader pool (DB.Read) or inside a write
// transaction (DB.Update). Write methods called on a reader fail.
type Queries struct {
	q       querier
	d       *Dialect
	stmts   *stmtCache           // the reader pool's statements; nil: none
	tx      *sql.Tx              // set inside DB.Update and DB.UpdateBatch
	txStmts map[string]*sql.Stmt // statements in tx, closed with it
	wStmts  *writerStmts         // the writer connection's kept statements
	observe func(method string)  // DB.Observe's listener; nil: none
	count   *atomic.Uint64       // DB.statements
	// split: the search index is in another store (searchfile.go), so
	// removing index rows means asking for it in search_unindex.
	split bool
	// indexOnly: these are the index store's queries (DB.indexOnly).
	indexOnly bool
}

func (db *DB) txQueries(tx *sql.Tx) *Queries {
	q := &Queries{q: tx, d: db.d, tx: tx, wStmts: db.wStmts, observe: db.observe, count: &db.statements, split: db.search != nil, indexOnly: db.indexOnly}
	if db.d.PrepareStatements {
		q.txStmts = map[string]*sql.Stmt{}
	}
	return q
}

// Read returns queries on the reader pool.
func (db *DB) Read() *Queries {
	return &Queries{q: db.r, d: db.d, stmts: db.rStmts, observe: db.observe, count: &db.statements, split: db.search != nil, indexOnly: db.indexOnly}
}

// Update runs fn in one write transaction and commits it when fn returns nil.
// An *tkesj.Error returned by fn is passed through unchanged.
func (db *DB) Update(ctx context.Context, fn func(q *Queries) error) error {
	db.foreground.Add(1)
	defer db.foreground.Add(-1)
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer db.wStmts.prepareWanted()
	return db.runTx(tx, fn)
}

// maxConflictRetries bounds UpdateRetrying's attempts after the first.
const maxConflictRetries = 4

// UpdateRetrying is Update for a transaction that takes many rows others
// write too, in an order it cannot share with them (an account's
// destruction leaves each of its conversations while a group commit holds
// some of them, issue 17): when the database fails it to break a deadlock
// (PostgreSQL 40P01) or a serialization conflict, fn runs again in a new
// transaction, a few times. fn must start afresh on each run: reset what
// it collects, not append to it.
func (db *DB) UpdateRetrying(ctx context.Context, fn func(q *Queries) error) error {
	for attempt := 0; ; attempt++ {
		err := db.Update(ctx, fn)
		if err == nil || db.d.IsConflict == nil || !db.d.IsConflict(err) || attempt == maxConflictRetries || ctx.Err() != nil {
			return err
		}
	}
}

// runTx runs fn in tx, then commits tx, or rolls it back when fn fails.
func (db *DB) runTx(tx *sql.Tx, fn func(q *Queries) error) error {
	if err := fn(db.txQueries(tx)); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// stmt returns a prepared statement for query, or nil when statements are
// not cached: in a transaction, the writer connection's statement kept from
// earlier transactions, or else one prepared for this transaction (and kept
// for the next ones once it ends); outside, from the reader pool's cache.
func (q *Queries) stmt(ctx context.Context, query string) *sql.Stmt {
	if q.txStmts != nil {
		if st := q.txStmts[query]; st != nil {
			return st
		}
		var st *sql.Stmt
		if kept := q.wStmts.get(query); kept != nil {
			st = q.tx.StmtContext(ctx, kept)
		} else {
			var err error
			if st, err = q.tx.PrepareContext(ctx, query); err != nil {
				return nil // run the text directly; its error surfaces there
			}
			q.wStmts.want(query)
		}
		q.txStmts[query] = st
		return st
	}
	if q.stmts == nil || q.tx != nil {
		return nil
	}
	return q.stmts.get(ctx, query)
}

func (q *Queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q.count.Add(1)
	if q.observe != nil {
		q.observe(calledMethod())
	}
	if q.d.Placeholders {
		query = rebind(query)
	}
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.q.ExecContext(ctx, query, args...)
}

func (q *Queries) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q.count.Add(1)
	if q.observe != nil {
		q.observe(calledMethod())
	}
	if q.d.Placeholders {
		query = rebind(query)
	}
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.q.QueryContext(ctx, query, args...)
}

func (q *Queries) row(ctx context.Context, query string, args ...any) *sql.Row {
	q.count.Add(1)
	if q.observe != nil {
		q.observe(calledMethod())
	}
	if q.d.Placeholders {
		query = rebind(query)
	}
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.q.QueryRowContext(ctx, query, args...)
}

// lock serialises, until the transaction ends, the write transactions that
// take the same key: for checks that no unique index backs. SQLite needs
// nothing (its writer runs one transaction at a time); PostgreSQL takes a
// transaction-scoped advisory lock on the key's hash.
func (q *Queries) lock(ctx context.Context, key string) error {
	if q.d.Name != "postgres" {
		return nil
	}
	_, err := q.exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(?))`, key)
	return err
}

// calledMethod returns the name of the outermost exported Queries method on
// the stack: the one the store's caller called.
func calledMethod() string {
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(3, pcs)])
	const prefix = "github.com/tkesj/tkesj/internal/store.(*Queries)."
	name := ""
	for {
		f, more := frames.Next()
		if m, ok := strings.CutPrefix(f.Function, prefix); ok && m != "" && m[0] >= 'A' && m[0] <= 'Z' {
			name, _, _ = strings.Cut(m, ".") // a closure inside the method
		}
		if !more {
			return name
		}
	}
}

// notFound maps sql.ErrNoRows to the domain's not-found error.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return tkesj.ErrNotFound(what)
	}
	return err
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// Statements counts the SQL statements run through this store since it
// opened: every query and write of Queries, and the savepoints of group
// commits; not BEGIN and COMMIT, nor what the migrations ran. /metrics
// shows it as tkesj_db_statements_total, and the bench divides it by the
// messages sent (issue 17).
func (db *DB) Statements() uint64 { return db.statements.Load() }

// UpdateBatch runs each fn in one shared write transaction: a failing fn is
// rolled back alone and its error returned in its slot, the others commit
// together. This is group commit: many writers share one fsync. If the
// commit itself fails, every slot holds that error.
//
// A batch first runs without savepoints (issue 17: a savepoint pair per
// write was two statements, and SQLite copied every page a write touched
// to the savepoint's journal). Only when some fn fails is that transaction
// rolled back and the batch run again with a savepoint around each fn. So
// fn may run twice, and must set nothing in its first run that its second
// does not set again (every writer fn assigns its results afresh). That
// first run commits all of fns or none, so one fn may do a write for
// several (the messaging writer stores a run of sends with one
// AppendMessages); in the run with savepoints each must do its own.
func (db *DB) UpdateBatch(ctx context.Context, fns []func(q *Queries) error) []error {
	db.foreground.Add(1)
	defer db.foreground.Add(-1)
	if len(fns) > 1 {
		if errs, ok := db.batchWithoutSavepoints(ctx, fns); ok {
			return errs
		}
	}
	return db.batchWithSavepoints(ctx, fns)
}

// batchWithoutSavepoints runs fns in one transaction; ok is false, with
// the transaction rolled back, when any fn failed.
func (db *DB) batchWithoutSavepoints(ctx context.Context, fns []func(q *Queries) error) (errs []error, ok bool) {
	errs = make([]error, len(fns))
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("begin: %w", err)
		}
		return errs, true
	}
	defer db.wStmts.prepareWanted()
	q := db.txQueries(tx)
	for _, fn := range fns {
		if err := fn(q); err != nil {
			tx.Rollback()
			return nil, false
		}
	}
	if err := tx.Commit(); err != nil {
		for i := range errs {
			errs[i] = fmt.Errorf("commit: %w", err)
		}
	}
	return errs, true
}

// batchWithSavepoints runs each fn of one transaction in its own savepoint.
func (db *DB) batchWithSavepoints(ctx context.Context, fns []func(q *Queries) error) []error {
	errs := make([]error, len(fns))
	fail := func(err error) []error {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fail(fmt.Errorf("begin: %w", err))
	}
	defer db.wStmts.prepareWanted()
	q := db.txQueries(tx)
	for i, fn := range fns {
		if len(fns) == 1 {
			errs[i] = fn(q)
			break
		}
		db.statements.Add(2) // SAVEPOINT, and RELEASE or ROLLBACK TO
		if _, err := tx.ExecContext(ctx, "SAVEPOINT b"); err != nil {
			tx.Rollback()
			return fail(fmt.Errorf("savepoint: %w", err))
		}
		if errs[i] = fn(q); errs[i] != nil {
			db.statements.Add(1)
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT b"); err != nil {
				tx.Rollback()
				return fail(fmt.Errorf("rollback to savepoint: %w", err))
			}
		}
		if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT b"); err != nil {
			tx.Rollback()
			return fail(fmt.Errorf("release savepoint: %w", err))
		}
	}
	if len(fns) == 1 && errs[0] != nil {
		tx.Rollback()
		return errs
	}
	if err := tx.Commit(); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return errs
}
