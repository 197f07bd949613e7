package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// IndexMessage records a message's token hashes, if it still has its body
// (as IndexMessages).
func (q *Queries) IndexMessage(ctx context.Context, convID string, seq int64, tokens [][]byte) error {
	return q.IndexMessages(ctx, []IndexEntry{{ConvID: convID, Seq: seq, Tokens: tokens}})
}

// insertPerMessage writes one row (key, conv_id, seq) per key into table,
// chunk keys per statement, leaving rows already there alone.
func insertPerMessage[K any](ctx context.Context, q *Queries, table, keyCol, convID string, seq int64, keys []K, chunk int) error {
	for len(keys) > 0 {
		n := min(len(keys), chunk)
		args := make([]any, 0, 3*n)
		for _, k := range keys[:n] {
			args = append(args, k, convID, seq)
		}
		if _, err := q.exec(ctx, `INSERT INTO `+table+` (`+keyCol+`, conv_id, seq) VALUES (?, ?, ?)`+strings.Repeat(`, (?, ?, ?)`, n-1)+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// tokenKeyLen is how much of a token's keyed hash the index keeps: 8 bytes
// make a collision between two of a conversation's words improbable, and a
// search confirms every candidate on its decrypted text anyway (issue 17:
// a shorter key fits more rows on each page the indexer writes).
const tokenKeyLen = 8

// tokenKey is t's first tokenKeyLen bytes (a shorter t, as tests use,
// padded with zeros): every key has the same length, so a message's keys
// are stored one after the other.
func tokenKey(t []byte) []byte {
	if len(t) >= tokenKeyLen {
		return t[:tokenKeyLen]
	}
	k := make([]byte, tokenKeyLen)
	copy(k, t)
	return k
}

// IndexBacklog is a conversation whose messages after IndexedSeq, up to
// LastSeq, the search indexer has not reached (issue 17: indexing follows
// the message log instead of running in the send transaction).
type IndexBacklog struct {
	ConvID     string
	IndexedSeq int64
	LastSeq    int64
}

// SearchBacklog lists, by id, up to limit conversations after the id after
// ("" for the first) with messages the indexer has not reached (the partial
// index conversations_unindexed holds only those). The indexer goes round
// from where its last pass stopped, so busy conversations early in id order
// cannot keep the others waiting.
func (q *Queries) SearchBacklog(ctx context.Context, after string, limit int) ([]IndexBacklog, error) {
	rows, err := q.query(ctx, `SELECT id, indexed_seq, last_seq FROM conversations WHERE last_seq > indexed_seq AND id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []IndexBacklog
	for rows.Next() {
		var b IndexBacklog
		if err := rows.Scan(&b.ConvID, &b.IndexedSeq, &b.LastSeq); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// backlogRanges is the WHERE clause (with its arguments) that selects the
// messages of each backlog entry after IndexedSeq and up to LastSeq.
func backlogRanges(backlog []IndexBacklog) (string, []any) {
	var b strings.Builder
	args := make([]any, 0, 3*len(backlog))
	b.WriteString("(")
	for i, e := range backlog {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("(conv_id = ? AND seq > ? AND seq <= ?)")
		args = append(args, e.ConvID, e.IndexedSeq, e.LastSeq)
	}
	b.WriteString(")")
	return b.String(), args
}

// BacklogMessages returns, by conversation and seq, up to limit messages
// of backlog that still have a body: what the indexer reads and opens. At
// most 100 backlog entries are read at a time.
func (q *Queries) BacklogMessages(ctx context.Context, backlog []IndexBacklog, limit int) ([]MessageRecord, error) {
	if len(backlog) == 0 {
		return nil, nil
	}
	backlog = backlog[:min(len(backlog), 100)]
	where, args := backlogRanges(backlog)
	return q.queryMessages(ctx, `SELECT `+messageCols+` FROM messages WHERE `+where+` AND body IS NOT NULL AND NOT recalled
		ORDER BY conv_id, seq LIMIT `+strconv.Itoa(limit), args...)
}

// IndexEntry is one message's token hashes, for IndexMessages.
type IndexEntry struct {
	ConvID string
	Seq    int64
	Tokens [][]byte
	// SentAt is the message's time, which the index store takes as given
	// (it cannot read messages); elsewhere it is read from the message.
	SentAt time.Time
}

// IndexMessages writes the token hashes of entries whose message still has
// its body: a message recalled, emptied by a purge or deleted after the
// indexer read it gets none. The rows go in sorted by token, so a batch
// writes each B-tree page of the index once, not once per message. On
// PostgreSQL, where other nodes' transactions run meanwhile, the messages
// are locked (FOR SHARE) until the commit, so a recall waits for it and
// then deletes these rows; a conversation being deleted is left to its
// deletion (SKIP LOCKED), so the two never wait on each other.
func (q *Queries) IndexMessages(ctx context.Context, entries []IndexEntry) error {
	type key struct {
		conv string
		seq  int64
	}
	ranges := map[string]*IndexBacklog{}
	var convs []string
	for _, e := range entries {
		r := ranges[e.ConvID]
		if r == nil {
			r = &IndexBacklog{ConvID: e.ConvID, IndexedSeq: e.Seq - 1, LastSeq: e.Seq}
			ranges[e.ConvID] = r
			convs = append(convs, e.ConvID)
		}
		r.IndexedSeq, r.LastSeq = min(r.IndexedSeq, e.Seq-1), max(r.LastSeq, e.Seq)
	}
	slices.Sort(convs)
	live := map[key]int64{} // a live message's sent_at
	if q.indexOnly {
		// The messages are in the other file: the indexer read them live,
		// and anything recalled or deleted since is in search_unindex,
		// which it applies after this pass (searchfile.go).
		for _, e := range entries {
			live[key{e.ConvID, e.Seq}] = micros(e.SentAt)
		}
		convs = nil
	}
	for len(convs) > 0 {
		n := min(len(convs), 100)
		chunk := convs[:n]
		convs = convs[n:]
		if q.d.Name == "postgres" {
			kept, err := q.strings(ctx, `SELECT id FROM conversations WHERE id IN (?`+strings.Repeat(", ?", n-1)+`) ORDER BY id FOR KEY SHARE SKIP LOCKED`, anys(chunk)...)
			if err != nil {
				return err
			}
			chunk = kept
		}
		if len(chunk) == 0 {
			continue
		}
		backlog := make([]IndexBacklog, 0, len(chunk))
		for _, c := range chunk {
			backlog = append(backlog, *ranges[c])
		}
		where, args := backlogRanges(backlog)
		lock := ""
		if q.d.Name == "postgres" {
			lock = " ORDER BY conv_id, seq FOR SHARE"
		}
		rows, err := q.query(ctx, `SELECT conv_id, seq, sent_at FROM messages WHERE `+where+` AND body IS NOT NULL AND NOT recalled`+lock, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k key
			var at int64
			if err := rows.Scan(&k.conv, &k.seq, &at); err != nil {
				rows.Close()
				return err
			}
			live[k] = at
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	type row struct {
		token []byte
		tok   uint64 // token as a number, to sort by
		at    int64
		key
	}
	var all []row
	lists := make([]any, 0, 4*len(entries))
	for _, e := range entries {
		k := key{e.ConvID, e.Seq}
		at, ok := live[k]
		if !ok {
			continue
		}
		list := make([]byte, 0, tokenKeyLen*len(e.Tokens))
		for _, t := range e.Tokens {
			t = tokenKey(t)
			all = append(all, row{t, binary.BigEndian.Uint64(t), at, k})
			list = append(list, t...)
		}
		lists = append(lists, e.ConvID, e.Seq, at, list)
	}
	// In the primary key's order: a batch then writes each page once, and
	// its rows for a word go to the end of that word's range, which holds
	// the newest messages (sent_at), not to one place per conversation.
	slices.SortFunc(all, func(a, b row) int {
		if c := cmp.Compare(a.tok, b.tok); c != 0 {
			return c
		}
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		if c := strings.Compare(a.conv, b.conv); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	// INSERT OR IGNORE on SQLite: a statement that cannot fail half-way
	// keeps no statement journal (ON CONFLICT DO NOTHING leaves the NOT
	// NULL checks able to abort it, so every page it touched was copied).
	insert := `INSERT INTO %s VALUES %s ON CONFLICT DO NOTHING`
	if q.d.Name == "sqlite" {
		insert = `INSERT OR IGNORE INTO %s VALUES %s`
	}
	const chunk = 256
	for len(all) > 0 {
		n := min(len(all), chunk)
		args := make([]any, 0, 4*n)
		for _, r := range all[:n] {
			args = append(args, r.token, r.at, r.conv, r.seq)
		}
		if _, err := q.exec(ctx, fmt.Sprintf(insert, `search_tokens (token, sent_at, conv_id, seq)`, `(?, ?, ?, ?)`+strings.Repeat(`, (?, ?, ?, ?)`, n-1)), args...); err != nil {
			return err
		}
		all = all[n:]
	}
	// Each message's token keys, for removing its rows later. Rows are
	// always written whole for a message, so a repeat changes nothing.
	for len(lists) > 0 {
		n := min(len(lists)/4, chunk)
		if _, err := q.exec(ctx, fmt.Sprintf(insert, `search_message_tokens (conv_id, seq, sent_at, tokens)`, `(?, ?, ?, ?)`+strings.Repeat(`, (?, ?, ?, ?)`, n-1)), lists[:4*n]...); err != nil {
			return err
		}
		lists = lists[4*n:]
	}
	return nil
}

// SetIndexed records how far the indexer got in each conversation of
// positions (IndexedSeq; LastSeq is not used). On PostgreSQL call it for
// one conversation per transaction: a transaction holding several
// conversations' rows could deadlock with a group commit that holds them
// in another order.
func (q *Queries) SetIndexed(ctx context.Context, positions []IndexBacklog) error {
	for len(positions) > 0 {
		n := min(len(positions), 100)
		var b strings.Builder
		args := make([]any, 0, 3*n)
		b.WriteString(`UPDATE conversations SET indexed_seq = CASE id`)
		for _, p := range positions[:n] {
			b.WriteString(` WHEN ? THEN CAST(? AS BIGINT)`)
			args = append(args, p.ConvID, p.IndexedSeq)
		}
		b.WriteString(` ELSE indexed_seq END WHERE id IN (?` + strings.Repeat(`, ?`, n-1) + `)`)
		for _, p := range positions[:n] {
			args = append(args, p.ConvID)
		}
		if _, err := q.exec(ctx, b.String(), args...); err != nil {
			return err
		}
		positions = positions[n:]
	}
	return nil
}

func anys[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// UnindexMessage removes a message from the index (on SQLite: asks the
// index file to, searchfile.go).
func (q *Queries) UnindexMessage(ctx context.Context, convID string, seq int64) error {
	if q.split {
		return q.enqueueUnindex(ctx, convID, seq)
	}
	return q.unindex(ctx, `conv_id = ? AND seq = ?`, convID, seq)
}

// unindex removes the index rows of the messages that where (a condition
// on conv_id and seq) selects in search_message_tokens, which lists each
// indexed message's token keys: the tokens cannot be recomputed once a
// sender's key is destroyed (issue 17).
func (q *Queries) unindex(ctx context.Context, where string, args ...any) error {
	rows, err := q.query(ctx, `SELECT conv_id, seq, sent_at, tokens FROM search_message_tokens WHERE `+where, args...)
	if err != nil {
		return err
	}
	var keys, msgs []any
	for rows.Next() {
		var conv string
		var seq, at int64
		var list []byte
		if err := rows.Scan(&conv, &seq, &at, &list); err != nil {
			rows.Close()
			return err
		}
		for ; len(list) >= tokenKeyLen; list = list[tokenKeyLen:] {
			keys = append(keys, list[:tokenKeyLen], at, conv, seq)
		}
		msgs = append(msgs, conv, seq)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Each row by its whole key (an OR of them: PostgreSQL would type a
	// VALUES list's parameters as text).
	for len(keys) > 0 {
		n := min(len(keys)/4, 200)
		if _, err := q.exec(ctx, `DELETE FROM search_tokens WHERE (token = ? AND sent_at = ? AND conv_id = ? AND seq = ?)`+strings.Repeat(` OR (token = ? AND sent_at = ? AND conv_id = ? AND seq = ?)`, n-1), keys[:4*n]...); err != nil {
			return err
		}
		keys = keys[4*n:]
	}
	for len(msgs) > 0 {
		n := min(len(msgs)/2, 200)
		if _, err := q.exec(ctx, `DELETE FROM search_message_tokens WHERE (conv_id = ? AND seq = ?)`+strings.Repeat(` OR (conv_id = ? AND seq = ?)`, n-1), msgs[:2*n]...); err != nil {
			return err
		}
		msgs = msgs[2*n:]
	}
	return nil
}

// SearchMessages returns, newest first, messages that carry every token and
// that viewerID may see: in a conversation they belong to, sent after they
// joined, not deleted for them.
func (q *Queries) SearchMessages(ctx context.Context, viewerID string, tokens [][]byte, limit int) ([]MessageRecord, error) {
	return q.SearchMessagesBefore(ctx, viewerID, tokens, SearchCursor{}, limit)
}

// SearchCursor is where a page of SearchMessagesBefore ended: its last
// message. The zero value starts at the newest.
type SearchCursor struct {
	SentAt time.Time
	ConvID string
	Seq    int64
}

// CursorAfter returns the cursor of the page that ended with m.
func CursorAfter(m MessageRecord) SearchCursor {
	return SearchCursor{SentAt: m.SentAt, ConvID: m.ConvID, Seq: m.Seq}
}

// SearchMessagesBefore is SearchMessages from the message after c on, in
// a total order (sent_at, then conversation and seq, descending), so a
// search whose candidates the decrypted text narrows can read on.
func (q *Queries) SearchMessagesBefore(ctx context.Context, viewerID string, tokens [][]byte, c SearchCursor, limit int) ([]MessageRecord, error) {
	if len(tokens) == 0 {
		return nil, nil
	}
	// Two of a query's tokens may share their first bytes: each is looked
	// up (and counted) once.
	var keys [][]byte
	for _, t := range tokens {
		if k := tokenKey(t); !slices.ContainsFunc(keys, func(x []byte) bool { return bytes.Equal(x, k) }) {
			keys = append(keys, k)
		}
	}
	args := make([]any, 0, len(keys)+7)
	for _, k := range keys {
		args = append(args, k)
	}
	older, page := "", ""
	if c.ConvID != "" {
		// A later page reads only the older part of each token's range
		// (the key orders it by sent_at), not all of it again.
		at := micros(c.SentAt)
		older = ` AND sent_at <= ?`
		args = append(args, at)
		page = ` AND (m.sent_at < ? OR (m.sent_at = ? AND (m.conv_id < ? OR (m.conv_id = ? AND m.seq < ?))))`
		args = append(args, len(keys), viewerID, viewerID, at, at, c.ConvID, c.ConvID, c.Seq)
	} else {
		args = append(args, len(keys), viewerID, viewerID)
	}
	return q.queryMessages(ctx, `SELECT `+prefixed("m.", messageCols)+` FROM (
			SELECT conv_id, seq FROM search_tokens WHERE token IN (?`+strings.Repeat(", ?", len(keys)-1)+`)`+older+`
			GROUP BY conv_id, seq HAVING COUNT(*) = ?) hit
		JOIN messages m ON m.conv_id = hit.conv_id AND m.seq = hit.seq
		JOIN members mem ON mem.conv_id = m.conv_id AND mem.user_id = ? AND m.seq > mem.joined_seq
		WHERE NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ? AND h.conv_id = m.conv_id AND h.seq = m.seq)`+page+`
		ORDER BY m.sent_at DESC, m.conv_id DESC, m.seq DESC LIMIT `+strconv.Itoa(limit), args...)
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}
