package store

import (
	"context"
	"database/sql"
	"math"
	"strings"
)

// The search index in a file of its own (SQLite, issue 17). SQLite has one
// write lock per database file, and while an indexer pass held the writer
// a send's group commit waited for it (B2 small p99 21–30 ms with the
// indexer on, 6–11 ms with it off). So on SQLite the index tables
// (search_batches, search_postings, search_message_tokens) live in a second database, the
// index store, with its own writer connection; the message store's reader
// connections attach it read-only, so a search reads the two
// as before. PostgreSQL keeps one database: SearchIndex is the store itself
// and nothing here runs.
//
// The indexer follows the message log by rowid (LogMessages) and keeps its
// position in the index store, written in the same transaction as the
// rows, so a crash redoes a pass and never skips one. The message store's
// transactions cannot reach the index file: what they remove (a recall,
// an expired message, a deleted conversation, a destroyed sender's
// emptied messages) goes into search_unindex in their own transaction,
// and ApplyUnindexQueue then deletes those rows in the index store and
// the entries after it. Until then a search may meet such a candidate:
// it is confirmed against the message (gone, recalled, emptied or
// expired), so it is never shown.

// UseSearchIndex makes idx the store of db's search index (sqlite.Open
// does, for the index file); idx closes with db.
func (db *DB) UseSearchIndex(idx *DB) {
	idx.indexOnly = true
	db.search = idx
	db.OnClose(idx.Close)
}

// SearchIndex returns the store that holds the search index: the index
// file's on SQLite, db itself on PostgreSQL.
func (db *DB) SearchIndex() *DB {
	if db.search != nil {
		return db.search
	}
	return db
}

// UnindexEntry is one request in search_unindex: a message (Seq > 0) or a
// whole conversation (Seq 0) whose index rows must go, and the largest
// message rowid when it was made (see schema 0060).
type UnindexEntry struct {
	ID     int64
	ConvID string
	Seq    int64
	Floor  int64
}

// enqueueUnindex asks the index store to forget a message (seq > 0) or a
// conversation (seq 0), in the caller's transaction.
func (q *Queries) enqueueUnindex(ctx context.Context, convID string, seq int64) error {
	var s any
	if seq > 0 {
		s = seq
	}
	_, err := q.exec(ctx, `INSERT INTO search_unindex (conv_id, seq, floor) VALUES (?, ?, (SELECT COALESCE(MAX(rowid), 0) FROM messages))`, convID, s)
	return err
}

// UnindexQueue lists, oldest first, up to limit requests to remove index
// rows that the message store's transactions left for the index store.
func (q *Queries) UnindexQueue(ctx context.Context, limit int) ([]UnindexEntry, error) {
	rows, err := q.query(ctx, `SELECT id, conv_id, seq, floor FROM search_unindex ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UnindexEntry
	for rows.Next() {
		var e UnindexEntry
		var seq sql.NullInt64
		if err := rows.Scan(&e.ID, &e.ConvID, &seq, &e.Floor); err != nil {
			return nil, err
		}
		e.Seq = seq.Int64
		out = append(out, e)
	}
	return out, rows.Err()
}

// DoneUnindex removes the requests up to id, once the index store has
// acted on them.
func (q *Queries) DoneUnindex(ctx context.Context, through int64) error {
	_, err := q.exec(ctx, `DELETE FROM search_unindex WHERE id <= ?`, through)
	return err
}

// LogPosition is a place in the message log: a message's rowid, and the
// message, by which the index file checks at open that the rowids are
// still the ones it followed (a VACUUM or a restore renumbers them).
type LogPosition struct {
	Rowid  int64
	ConvID string
	Seq    int64
}

// LogMessages reads the message log after rowid after, up to limit rows in
// rowid order, and returns those that still have a body to index and the
// last position read (Rowid after, when none). Emptied and recalled
// messages are read past, not returned.
func (q *Queries) LogMessages(ctx context.Context, after int64, limit int) (msgs []MessageRecord, last LogPosition, read int, err error) {
	last.Rowid = after
	rows, err := q.query(ctx, `SELECT rowid, `+messageCols+` FROM messages WHERE rowid > ? ORDER BY rowid LIMIT ?`, after, limit)
	if err != nil {
		return nil, last, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		m, err := scanMessage(rowidScanner{rows, &id})
		if err != nil {
			return nil, LogPosition{Rowid: after}, 0, err
		}
		read++
		last = LogPosition{Rowid: id, ConvID: m.ConvID, Seq: m.Seq}
		if m.Body != nil && !m.Recalled {
			msgs = append(msgs, m)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, LogPosition{Rowid: after}, 0, err
	}
	return msgs, last, read, nil
}

// rowidScanner scans a row's leading rowid into *id and the rest as asked.
type rowidScanner struct {
	rows *sql.Rows
	id   *int64
}

func (s rowidScanner) Scan(dest ...any) error { return s.rows.Scan(append([]any{s.id}, dest...)...) }

// SearchPosition is the rowid of the last message the index store has
// indexed (0: none).
func (q *Queries) SearchPosition(ctx context.Context) (int64, error) {
	var pos int64
	err := q.row(ctx, `SELECT pos FROM search_state`).Scan(&pos)
	return pos, err
}

// SetSearchPosition records, with a pass's rows, the last position it read.
func (q *Queries) SetSearchPosition(ctx context.Context, pos LogPosition) error {
	_, err := q.exec(ctx, `UPDATE search_state SET pos = ?, conv_id = ?, seq = ?`, pos.Rowid, pos.ConvID, pos.Seq)
	return err
}

// ApplyUnindex deletes, in the index store, the rows of entries, and moves
// the position down to the lowest floor among them, so that a message
// given a deleted message's rowid is read (and indexed) again.
func (q *Queries) ApplyUnindex(ctx context.Context, entries []UnindexEntry) error {
	if len(entries) == 0 {
		return nil
	}
	floor := entries[0].Floor
	var msgs []any
	flush := func() error {
		for len(msgs) > 0 {
			n := min(len(msgs)/2, 200)
			if err := q.unindex(ctx, `(conv_id = ? AND seq = ?)`+strings.Repeat(` OR (conv_id = ? AND seq = ?)`, n-1), msgs[:2*n]...); err != nil {
				return err
			}
			msgs = msgs[2*n:]
		}
		return nil
	}
	for _, e := range entries {
		floor = min(floor, e.Floor)
		if e.Seq > 0 {
			msgs = append(msgs, e.ConvID, e.Seq)
			continue
		}
		if err := q.unindex(ctx, `conv_id = ?`, e.ConvID); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	// Below the floor the message at the position is not known (the check
	// at open skips it).
	_, err := q.exec(ctx, `UPDATE search_state SET conv_id = CASE WHEN pos > ? THEN NULL ELSE conv_id END, pos = MIN(pos, ?)`, floor, floor)
	return err
}

// ApplyUnindexQueue acts on up to limit requests of search_unindex: it
// deletes their rows in the index store, with a durable commit, and then
// the requests (a crash in between acts on them again, which changes
// nothing). It reports how many it took; on a store without an index file
// it does nothing. Run it after any indexer pass that may have read a
// message before its request was made (messaging runs the two in turn), so
// that rows written from such a read are deleted too.
func (db *DB) ApplyUnindexQueue(ctx context.Context, limit int) (int, error) {
	if db.search == nil {
		return 0, nil
	}
	es, err := db.Read().UnindexQueue(ctx, limit)
	if err != nil || len(es) == 0 {
		return 0, err
	}
	if err := db.search.Update(ctx, func(q *Queries) error { return q.ApplyUnindex(ctx, es) }); err != nil {
		return 0, err
	}
	if err := db.UpdateRelaxed(ctx, func(q *Queries) error { return q.DoneUnindex(ctx, es[len(es)-1].ID) }); err != nil {
		return 0, err
	}
	return len(es), nil
}

// PurgeMarks lists up to limit of a destroyed sender's messages whose body
// EmptyMessageBodies emptied and whose index rows are still to delete (the
// unindex_pending marks), as removals for the index file's ApplyUnindex.
// On SQLite the purge deletes their rows there, holding off the indexer,
// and then clears the marks (ClearPurgeMarks): one write of the message
// store a batch, as UnindexPurged is on PostgreSQL.
func (q *Queries) PurgeMarks(ctx context.Context, senderID string, limit int) ([]UnindexEntry, error) {
	rows, err := q.query(ctx, `SELECT conv_id, seq FROM messages WHERE sender_id = ? AND unindex_pending IS NOT NULL LIMIT ?`, senderID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UnindexEntry
	for rows.Next() {
		e := UnindexEntry{Floor: math.MaxInt64} // the rows stay: no rowid frees
		if err := rows.Scan(&e.ConvID, &e.Seq); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ClearPurgeMarks clears the marks of entries (from PurgeMarks) once the
// index file has deleted their rows.
func (q *Queries) ClearPurgeMarks(ctx context.Context, entries []UnindexEntry) error {
	for len(entries) > 0 {
		n := min(len(entries), 200)
		args := make([]any, 0, 2*n)
		for _, e := range entries[:n] {
			args = append(args, e.ConvID, e.Seq)
		}
		if _, err := q.exec(ctx, `UPDATE messages SET unindex_pending = NULL WHERE (conv_id = ? AND seq = ?)`+strings.Repeat(` OR (conv_id = ? AND seq = ?)`, n-1), args...); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}
