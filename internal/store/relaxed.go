package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"
)

// UpdateRelaxed runs fn in one write transaction like Update, for writes that
// a power failure may take back because they are redone: data derived from
// durable rows, written together with a durable marker of the progress that
// made it (the Moments fan-out's timeline references and its job's position).
// Its commit does not wait for the disk:
//
//   - SQLite: the writer connection commits it with synchronous(NORMAL). The
//     WAL frames are written but not synced; the next ordinary (FULL) commit
//     or checkpoint syncs them, in order, with its own. A crash loses at most
//     the last relaxed transactions, whole, and never an ordinary one
//     committed after them.
//   - PostgreSQL: synchronous_commit is off for the transaction, with the same
//     guarantee (the WAL is flushed in order by the next synchronous commit).
//
// On a single-writer store this is what keeps background work from holding
// the writer through an fsync that messages then wait behind (issue 19).
func (db *DB) UpdateRelaxed(ctx context.Context, fn func(q *Queries) error) error {
	switch db.d.Name {
	case "sqlite":
	case "postgres":
		return db.Update(ctx, func(q *Queries) error {
			if _, err := q.tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return fmt.Errorf("relax commit: %w", err)
			}
			return fn(q)
		})
	default:
		return db.Update(ctx, fn)
	}
	db.yieldToForeground(ctx)
	// The writer pool is one connection: holding it from the pragma to its
	// reset keeps every other transaction off it while it is relaxed.
	err := db.relaxedSQLite(ctx, fn)
	// Statements met in the transaction are prepared only once the
	// connection is back in the pool (preparing needs it).
	db.wStmts.prepareWanted()
	return err
}

// relaxedYield bounds how long background work waits for the writer to be
// free of ordinary writes: under a steady stream of messages it still gets
// its turn.
const relaxedYield = 50 * time.Millisecond

// yieldToForeground waits, up to relaxedYield, until no ordinary write waits
// for or holds SQLite's one writer: a message that arrives while background
// work runs waits for one slice of it at most, and one that is already
// waiting never waits behind it (the pool hands a freed connection to any
// waiter, not the first).
func (db *DB) yieldToForeground(ctx context.Context) {
	if db.foreground.Load() == 0 {
		return
	}
	deadline := time.Now().Add(relaxedYield)
	for db.foreground.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Microsecond)
	}
}

func (db *DB) relaxedSQLite(ctx context.Context, fn func(q *Queries) error) error {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("writer: %w", err)
	}
	defer conn.Close()
	var level int
	if err := conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&level); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return fmt.Errorf("relax commit: %w", err)
	}
	defer func() {
		// A connection that cannot be set back must never commit a message:
		// it leaves the pool, and the pool opens a new one with the DSN's
		// pragmas.
		if _, err := conn.ExecContext(context.Background(), fmt.Sprintf(`PRAGMA synchronous = %d`, level)); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return db.runTx(tx, fn)
}

// CommitDurability reports how the transaction it runs in will commit:
// "durable" when the commit waits for the disk (SQLite synchronous FULL or
// EXTRA, PostgreSQL synchronous_commit on), "relaxed" otherwise. Every
// ordinary write is durable; only UpdateRelaxed's are not.
func (q *Queries) CommitDurability(ctx context.Context) (string, error) {
	if q.d.Name == "postgres" {
		var v string
		if err := q.row(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&v); err != nil {
			return "", err
		}
		if v == "off" || v == "local" {
			return "relaxed", nil
		}
		return "durable", nil
	}
	// Not through the kept statements: SQLite reads a pragma's value when
	// the statement is prepared, so a kept one would answer for its past.
	if q.observe != nil {
		q.observe("CommitDurability")
	}
	var level int
	if err := q.q.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&level); err != nil {
		return "", err
	}
	if level >= 2 {
		return "durable", nil
	}
	return "relaxed", nil
}
