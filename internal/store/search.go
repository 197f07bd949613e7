package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"github.com/tkesj/tkesj/internal/pace"
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
	// (it cannot read messages) and orders a search's candidates by;
	// elsewhere it is read from the message.
	SentAt time.Time
}

// IndexMessages writes the token hashes of entries whose message still has
// its body: a message recalled, emptied by a purge or deleted after the
// indexer read it gets none. The entries become one batch of the index
// (writeBatch, postings.go): a row per token they hold, not per token and
// message. On
// PostgreSQL, where other nodes' transactions run meanwhile, the messages
// are locked (FOR SHARE) until the commit, so a recall waits for it and
// then deletes these rows; a conversation being deleted is left to its
// deletion (SKIP LOCKED), so the two never wait on each other.
func (q *Queries) IndexMessages(ctx context.Context, entries []IndexEntry) error {
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
	live := map[MessageRef]int64{} // a live message's sent_at
	if q.indexOnly {
		// The messages are in the other file: the indexer read them live,
		// and anything recalled or deleted since is in search_unindex,
		// which it applies after this pass (searchfile.go).
		for _, e := range entries {
			live[MessageRef{e.ConvID, e.Seq}] = micros(e.SentAt)
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
			var k MessageRef
			var at int64
			if err := rows.Scan(&k.ConvID, &k.Seq, &at); err != nil {
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
	var items []batchItem
	var itemTokens [][][]byte
	for _, e := range entries {
		at, ok := live[MessageRef{e.ConvID, e.Seq}]
		if !ok {
			continue
		}
		items = append(items, batchItem{conv: e.ConvID, seq: e.Seq, at: at})
		itemTokens = append(itemTokens, e.Tokens)
	}
	if len(items) == 0 {
		return nil
	}
	return q.writeBatch(ctx, items, itemTokens)
}

// writeBatch writes items, whose token hashes are tokens, as one batch of
// the index (postings.go). A message already indexed (a pass done again,
// or on PostgreSQL another node's at the same time) keeps its entries and
// is left out: search_message_tokens's key decides, row by row.
func (q *Queries) writeBatch(ctx context.Context, items []batchItem, tokens [][][]byte) error {
	var batch int64
	if err := q.row(ctx, `INSERT INTO search_batches (msgs) VALUES (?) RETURNING batch`, encodeBatch(items)).Scan(&batch); err != nil {
		return err
	}
	// INSERT OR IGNORE on SQLite: a statement that cannot fail half-way
	// keeps no statement journal (ON CONFLICT DO NOTHING leaves the NOT
	// NULL checks able to abort it, so every page it touched was copied).
	insert := `INSERT INTO %s VALUES %s ON CONFLICT DO NOTHING`
	if q.d.Name == "sqlite" {
		insert = `INSERT OR IGNORE INTO %s VALUES %s`
	}
	written := make(map[MessageRef]bool, len(items))
	const chunk = 200
	for from := 0; from < len(items); from += chunk {
		pace.Step(ctx)
		to := min(from+chunk, len(items))
		args := make([]any, 0, 6*(to-from))
		for i := from; i < to; i++ {
			list := make([]byte, 0, tokenKeyLen*len(tokens[i]))
			for _, t := range tokens[i] {
				list = append(list, tokenKey(t)...)
			}
			args = append(args, items[i].conv, items[i].seq, items[i].at, batch, i, list)
		}
		rows, err := q.query(ctx, fmt.Sprintf(insert, `search_message_tokens (conv_id, seq, sent_at, batch, item, tokens)`,
			`(?, ?, ?, ?, ?, ?)`+strings.Repeat(`, (?, ?, ?, ?, ?, ?)`, to-from-1))+` RETURNING conv_id, seq`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k MessageRef
			if err := rows.Scan(&k.ConvID, &k.Seq); err != nil {
				rows.Close()
				return err
			}
			written[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	if len(written) < len(items) {
		if len(written) == 0 {
			_, err := q.exec(ctx, `DELETE FROM search_batches WHERE batch = ?`, batch)
			return err
		}
		for i, it := range items {
			if !written[MessageRef{it.conv, it.seq}] {
				items[i], tokens[i] = batchItem{}, nil
			}
		}
		if _, err := q.exec(ctx, `UPDATE search_batches SET msgs = ? WHERE batch = ?`, encodeBatch(items), batch); err != nil {
			return err
		}
	}
	// Each token's item numbers, ascending; the rows in key order.
	lists := map[[tokenKeyLen]byte][]int{}
	for i, toks := range tokens {
		for _, t := range toks {
			k := [tokenKeyLen]byte(tokenKey(t))
			if l := lists[k]; len(l) == 0 || l[len(l)-1] != i {
				lists[k] = append(l, i)
			}
		}
	}
	keys := make([][tokenKeyLen]byte, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [tokenKeyLen]byte) int { return bytes.Compare(a[:], b[:]) })
	for len(keys) > 0 {
		pace.Step(ctx)
		n := min(len(keys), 300)
		args := make([]any, 0, 3*n)
		for _, k := range keys[:n] {
			args = append(args, k[:], batch, encodeItems(lists[k]))
		}
		if _, err := q.exec(ctx, fmt.Sprintf(insert, `search_postings (token, batch, items)`, `(?, ?, ?)`+strings.Repeat(`, (?, ?, ?)`, n-1)), args...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// SetIndexed records how far the indexer got in each conversation of
// positions (IndexedSeq; LastSeq is not used). On PostgreSQL a
// conversation whose row another transaction holds (a group commit
// appending to it) is skipped, not waited for, so that one transaction
// may move many positions without ever waiting in a lock order that
// could deadlock with a group commit, which takes the rows in the order
// its messages came (issue 17: one transaction per conversation was three
// round trips per indexed message). A skipped position stays behind: the
// next pass reads those messages again and IndexMessages leaves them as
// they are.
func (q *Queries) SetIndexed(ctx context.Context, positions []IndexBacklog) error {
	positions = slices.Clone(positions)
	slices.SortFunc(positions, func(a, b IndexBacklog) int { return strings.Compare(a.ConvID, b.ConvID) })
	for len(positions) > 0 {
		n := min(len(positions), 100)
		var b strings.Builder
		args := make([]any, 0, 3*n)
		b.WriteString(`UPDATE conversations SET indexed_seq = CASE id`)
		for _, p := range positions[:n] {
			b.WriteString(` WHEN ? THEN CAST(? AS BIGINT)`)
			args = append(args, p.ConvID, p.IndexedSeq)
		}
		in := `(?` + strings.Repeat(`, ?`, n-1) + `)`
		if q.d.Name == "postgres" {
			in = `(SELECT id FROM conversations WHERE id IN ` + in + ` ORDER BY id FOR NO KEY UPDATE SKIP LOCKED)`
		}
		b.WriteString(` ELSE indexed_seq END WHERE id IN ` + in)
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

// unindex removes from the index the messages that where (a condition on
// conv_id and seq) selects in search_message_tokens, which lists each
// indexed message's batch, item and token keys (the tokens cannot be
// recomputed once a sender's key is destroyed): their numbers leave the
// posting lists of those tokens in that batch, and their entries in the
// batch are emptied (postings.go). On PostgreSQL the lists and batches
// are locked in key order before they are rewritten, so two removals
// never undo each other's and never deadlock.
func (q *Queries) unindex(ctx context.Context, where string, args ...any) error {
	type postKey struct {
		tok   [tokenKeyLen]byte
		batch int64
	}
	rows, err := q.query(ctx, `SELECT conv_id, seq, batch, item, tokens FROM search_message_tokens WHERE `+where, args...)
	if err != nil {
		return err
	}
	var msgs []any
	batches := map[int64]map[int]bool{}
	lists := map[postKey]map[int]bool{}
	for rows.Next() {
		var conv string
		var seq, batch int64
		var item int
		var list []byte
		if err := rows.Scan(&conv, &seq, &batch, &item, &list); err != nil {
			rows.Close()
			return err
		}
		if batches[batch] == nil {
			batches[batch] = map[int]bool{}
		}
		batches[batch][item] = true
		for ; len(list) >= tokenKeyLen; list = list[tokenKeyLen:] {
			k := postKey{[tokenKeyLen]byte(list), batch}
			if lists[k] == nil {
				lists[k] = map[int]bool{}
			}
			lists[k][item] = true
		}
		msgs = append(msgs, conv, seq)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	lock := ""
	if q.d.Name == "postgres" {
		lock = " FOR UPDATE"
	}
	keys := make([]postKey, 0, len(lists))
	for k := range lists {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b postKey) int {
		if c := bytes.Compare(a.tok[:], b.tok[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.batch, b.batch)
	})
	var emptied []any
	for len(keys) > 0 {
		n := min(len(keys), 200)
		args := make([]any, 0, 2*n)
		for _, k := range keys[:n] {
			args = append(args, k.tok[:], k.batch)
		}
		keys = keys[n:]
		rows, err := q.query(ctx, `SELECT token, batch, items FROM search_postings WHERE (token = ? AND batch = ?)`+strings.Repeat(` OR (token = ? AND batch = ?)`, n-1)+` ORDER BY token, batch`+lock, args...)
		if err != nil {
			return err
		}
		type rewrite struct {
			k     postKey
			items []byte
		}
		var rewrites []rewrite
		for rows.Next() {
			var tok, b []byte
			var k postKey
			if err := rows.Scan(&tok, &k.batch, &b); err != nil {
				rows.Close()
				return err
			}
			if len(tok) != tokenKeyLen {
				continue
			}
			k.tok = [tokenKeyLen]byte(tok)
			items, err := decodeItems(b)
			if err != nil {
				items = nil // a damaged list goes whole
			}
			if items = withoutItems(items, lists[k]); len(items) == 0 {
				emptied = append(emptied, k.tok[:], k.batch)
			} else {
				rewrites = append(rewrites, rewrite{k, encodeItems(items)})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range rewrites {
			if _, err := q.exec(ctx, `UPDATE search_postings SET items = ? WHERE token = ? AND batch = ?`, r.items, r.k.tok[:], r.k.batch); err != nil {
				return err
			}
		}
	}
	for len(emptied) > 0 {
		n := min(len(emptied)/2, 200)
		if _, err := q.exec(ctx, `DELETE FROM search_postings WHERE (token = ? AND batch = ?)`+strings.Repeat(` OR (token = ? AND batch = ?)`, n-1), emptied[:2*n]...); err != nil {
			return err
		}
		emptied = emptied[2*n:]
	}
	ids := make([]int64, 0, len(batches))
	for b := range batches {
		ids = append(ids, b)
	}
	slices.Sort(ids)
	for len(ids) > 0 {
		n := min(len(ids), 200)
		var gone []int64
		var kept [][]any
		err := q.eachIDBlob(ctx, `SELECT batch, msgs FROM search_batches WHERE batch IN (?`+strings.Repeat(`, ?`, n-1)+`) ORDER BY batch`+lock, anys(ids[:n]), func(batch int64, b []byte) {
			items, err := decodeBatch(b)
			if err != nil {
				items = nil // a damaged batch goes whole
			}
			left := false
			for i := range items {
				if batches[batch][i] {
					items[i] = batchItem{}
				}
				left = left || !items[i].removed()
			}
			if left {
				kept = append(kept, []any{encodeBatch(items), batch})
			} else {
				gone = append(gone, batch)
			}
		})
		ids = ids[n:]
		if err != nil {
			return err
		}
		for _, k := range kept {
			if _, err := q.exec(ctx, `UPDATE search_batches SET msgs = ? WHERE batch = ?`, k...); err != nil {
				return err
			}
		}
		if len(gone) > 0 {
			if _, err := q.exec(ctx, `DELETE FROM search_batches WHERE batch IN (?`+strings.Repeat(`, ?`, len(gone)-1)+`)`, anys(gone)...); err != nil {
				return err
			}
		}
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

// SearchMessages returns, newest first, the first limit messages that
// carry every token and that viewerID may see: in a conversation they
// belong to, sent after they joined, not deleted for them.
func (q *Queries) SearchMessages(ctx context.Context, viewerID string, tokens [][]byte, limit int) ([]MessageRecord, error) {
	cands, err := q.SearchCandidates(ctx, viewerID, tokens, 0)
	if err != nil {
		return nil, err
	}
	return q.CandidateMessages(ctx, viewerID, cands, limit)
}

// MessageRef names a message: a search's candidate, an index entry's.
type MessageRef struct {
	ConvID string
	Seq    int64
}

// SearchCandidates returns the messages that carry every token, in
// conversations viewerID belongs to and sent after they joined, newest
// first (sent_at, then conversation and seq): the first most of them (0:
// all). The index is read once: a search then opens the candidates a page
// at a time (CandidateMessages), while their decrypted text decides,
// without reading the posting lists again for each page.
func (q *Queries) SearchCandidates(ctx context.Context, viewerID string, tokens [][]byte, most int) ([]MessageRef, error) {
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
	// The viewer's conversations, and the seq each was joined at.
	joined := map[string]int64{}
	rows, err := q.query(ctx, `SELECT conv_id, joined_seq FROM members WHERE user_id = ?`, viewerID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var conv string
		var seq int64
		if err := rows.Scan(&conv, &seq); err != nil {
			rows.Close()
			return nil, err
		}
		joined[conv] = seq
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(joined) == 0 {
		return nil, err
	}
	// The batches holding every token, and in each the items that do.
	type hit struct {
		n     int
		items []int
	}
	hits := map[int64]*hit{}
	err = q.eachIDBlob(ctx, `SELECT batch, items FROM search_postings WHERE token IN (?`+strings.Repeat(", ?", len(keys)-1)+`)`, anys(keys), func(batch int64, b []byte) {
		items, err := decodeItems(b)
		if err != nil {
			return
		}
		h := hits[batch]
		switch {
		case h == nil:
			hits[batch] = &hit{1, items}
		case h.n > 0:
			h.n++
			if h.items = intersectItems(h.items, items); len(h.items) == 0 {
				h.n = -len(keys) // no match here, whatever follows
			}
		}
	})
	if err != nil {
		return nil, err
	}
	var batches []int64
	for b, h := range hits {
		if h.n == len(keys) {
			batches = append(batches, b)
		}
	}
	slices.Sort(batches)
	// Their messages the viewer may see, newest first (sent_at, then
	// conversation and seq).
	var cands []batchItem
	for len(batches) > 0 {
		n := min(len(batches), 200)
		err := q.eachIDBlob(ctx, `SELECT batch, msgs FROM search_batches WHERE batch IN (?`+strings.Repeat(`, ?`, n-1)+`)`, anys(batches[:n]), func(batch int64, b []byte) {
			items, err := decodeBatch(b)
			if err != nil {
				return
			}
			for _, i := range hits[batch].items {
				if i >= len(items) || items[i].removed() {
					continue
				}
				it := items[i]
				if j, ok := joined[it.conv]; ok && it.seq > j {
					cands = append(cands, it)
				}
			}
		})
		batches = batches[n:]
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(cands, func(a, b batchItem) int {
		if c := cmp.Compare(b.at, a.at); c != 0 {
			return c
		}
		if c := strings.Compare(b.conv, a.conv); c != 0 {
			return c
		}
		return cmp.Compare(b.seq, a.seq)
	})
	cands = slices.CompactFunc(cands, func(a, b batchItem) bool { return a.conv == b.conv && a.seq == b.seq })
	if most > 0 && len(cands) > most {
		cands = cands[:most]
	}
	out := make([]MessageRef, len(cands))
	for i, it := range cands {
		out[i] = MessageRef{it.conv, it.seq}
	}
	return out, nil
}

// CandidateMessages returns, in their order, up to limit of cands's
// messages that are still there and not hidden from viewerID.
func (q *Queries) CandidateMessages(ctx context.Context, viewerID string, cands []MessageRef, limit int) ([]MessageRecord, error) {
	var out []MessageRecord
	for len(cands) > 0 && len(out) < limit {
		n := min(len(cands), max(limit-len(out), 20), 200)
		args := make([]any, 0, 2*n+1)
		args = append(args, viewerID)
		for _, it := range cands[:n] {
			args = append(args, it.ConvID, it.Seq)
		}
		page := cands[:n]
		cands = cands[n:]
		msgs, err := q.queryMessages(ctx, `SELECT `+prefixed("m.", messageCols)+` FROM messages m
			WHERE NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ? AND h.conv_id = m.conv_id AND h.seq = m.seq)
			AND ((m.conv_id = ? AND m.seq = ?)`+strings.Repeat(` OR (m.conv_id = ? AND m.seq = ?)`, n-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		found := make(map[MessageRef]MessageRecord, len(msgs))
		for _, m := range msgs {
			found[MessageRef{m.ConvID, m.Seq}] = m
		}
		for _, it := range page {
			if m, ok := found[it]; ok && len(out) < limit {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// eachIDBlob runs query, whose rows are an integer and a blob, and calls fn
// on each row.
func (q *Queries) eachIDBlob(ctx context.Context, query string, args []any, fn func(id int64, b []byte)) error {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var b []byte
		if err := rows.Scan(&id, &b); err != nil {
			return err
		}
		fn(id, b)
	}
	return rows.Err()
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}
