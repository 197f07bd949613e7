package store

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxStmts bounds the cache: queries with IN lists of varying length are
// distinct texts, and a cache must not grow with them for ever.
const maxStmts = 512

// stmtCache holds prepared statements of one pool by query text.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

// get returns the statement for query, preparing it once; nil when the cache
// is full or preparing fails (the caller then runs the text directly, and
// any error in it surfaces there).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.RLock()
	st := c.m[query]
	full := len(c.m) >= maxStmts
	c.mu.RUnlock()
	if st != nil || full {
		return st
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev := c.m[query]; prev != nil {
		st.Close()
		return prev
	}
	c.m[query] = st
	return st
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	clear(c.m)
}

// writerStmts keeps the writer connection's statements across transactions.
// A statement first met inside a transaction is prepared for that
// transaction only, because preparing on the writer pool while a
// transaction holds its one connection would wait for ever; once the
// transaction ends it is prepared on the pool, and later transactions take
// it with Tx.StmtContext, which reuses what is already prepared on their
// connection. Before, a group commit re-prepared its statements in every
// transaction (63 µs a message in issue 17's profile).
type writerStmts struct {
	db       *sql.DB
	mu       sync.Mutex
	m        map[string]*sql.Stmt
	wanted   []string
	prepares atomic.Uint64 // statements prepared inside a transaction
}

func newWriterStmts(db *sql.DB) *writerStmts {
	return &writerStmts{db: db, m: map[string]*sql.Stmt{}}
}

func (w *writerStmts) get(query string) *sql.Stmt {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m[query]
}

// want notes a statement prepared inside a transaction, to keep after it.
func (w *writerStmts) want(query string) {
	if w == nil {
		return
	}
	w.prepares.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.m)+len(w.wanted) < maxStmts {
		w.wanted = append(w.wanted, query)
	}
}

// prepareWanted prepares, on the writer pool, the statements met in the
// transaction that just ended. It runs after the transaction released the
// connection, on the goroutine that ran it.
func (w *writerStmts) prepareWanted() {
	if w == nil {
		return
	}
	w.mu.Lock()
	wanted := w.wanted
	w.wanted = nil
	w.mu.Unlock()
	for _, query := range wanted {
		if w.get(query) != nil {
			continue
		}
		st, err := w.db.PrepareContext(context.Background(), query)
		if err != nil {
			continue // prepared per transaction again next time
		}
		w.mu.Lock()
		w.m[query] = st
		w.mu.Unlock()
	}
}

func (w *writerStmts) close() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range w.m {
		st.Close()
	}
	w.m = map[string]*sql.Stmt{}
}

// WriterPrepares counts the statements prepared inside write transactions:
// after warm-up it stays still, because later transactions reuse the
// writer connection's statements.
func (db *DB) WriterPrepares() uint64 {
	if db.wStmts == nil {
		return 0
	}
	return db.wStmts.prepares.Load()
}
