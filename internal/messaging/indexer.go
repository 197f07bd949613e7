package messaging

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/pace"
	"github.com/tkesj/tkesj/internal/search"
	"github.com/tkesj/tkesj/internal/store"
)

// The search indexer (R-MSG-6, issue 17). Sending no longer writes a
// message's search tokens in its transaction (they were a quarter of the
// send path's CPU: one random-key insert per word, each page also copied
// to the savepoint's journal); an indexer follows the message log instead.
// Every conversation keeps indexed_seq, how far its messages are indexed;
// a pass reads the conversations behind (a partial index holds only
// those), opens their new messages, and writes all their tokens in one
// sorted batch with the new positions. The positions are in the database,
// so a crash only means a pass is done again, and any node may run it: on
// PostgreSQL several nodes' indexers at once are safe (the rows are
// written with ON CONFLICT DO NOTHING, and store.IndexMessages takes the
// locks that keep a recall from passing an index write).
//
// On SQLite the index is a database file of its own (issue 17; see
// store/searchfile.go and sqlite/searchindex.go), so that a pass never
// holds the lock a send's group commit needs: indexFilePass follows the
// log by rowid instead of indexed_seq, writes each pass (up to
// indexFileMsgs messages) in one transaction of the index file with its
// position, and then applies the removals the message store's
// transactions asked for in search_unindex.
//
// A message is searchable within IndexDelay plus one pass after it is
// stored (within a second by default), and a search waits for this node's
// backlog first, so people find what they have just sent. A message
// recalled, purged or deleted before the indexer reaches it is never
// indexed: IndexMessages writes tokens only for messages that still have
// their body.

const (
	indexConvs = 100 // conversations one pass looks at (PostgreSQL)
	indexMsgs  = 256 // messages one pass opens (~6,000 index rows)

	// A pass in the background works for indexWork, then rests for
	// indexRest (package pace): a request waits behind at most one such
	// stretch, and a backlog is still worked off at up to half the core.
	indexWork = time.Millisecond
	indexRest = time.Millisecond
)

// wakeIndexer tells the indexer that a message was stored. It never blocks.
func (s *Service) wakeIndexer() {
	select {
	case s.indexWake <- struct{}{}:
	default:
	}
}

// runIndexer indexes new messages until ctx ends: IndexDelay after it is
// woken (so one pass takes many messages), and every 5 × IndexDelay
// without (for other nodes' messages, and after an error).
func (s *Service) runIndexer(ctx context.Context) {
	t := time.NewTicker(5 * s.Cfg.IndexDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.indexWake:
			select {
			case <-ctx.Done():
				return
			case <-time.After(s.Cfg.IndexDelay):
			}
		case <-t.C:
		}
		for {
			start := time.Now()
			more, err := s.indexPass(pace.With(ctx, &pace.Pacer{Work: indexWork, Rest: indexRest}))
			if err != nil {
				if ctx.Err() == nil {
					s.Log.WarnContext(ctx, "search indexer", "err", err.Error())
				}
				break
			}
			if !more {
				break
			}
			// A backlog (after a burst, or a restart) is worked off at
			// most half the time: messages must not queue behind the
			// indexer (B2 full: a 1,000/s step after overload ran at p50
			// 2.7 s while passes of 2,000 messages followed each other,
			// when SQLite's index shared the messages' writer; with its
			// own file they still share the processor).
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Since(start)):
			}
		}
	}
}

// catchUpIndex lets the indexer finish its backlog before a search, for at
// most a second, so a search finds what was just sent.
func (s *Service) catchUpIndex(ctx context.Context) {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		more, err := s.indexPass(ctx)
		if err != nil || !more {
			return
		}
	}
}

// passHashes is tokenHashes through hashed, the keyed hashes of the tokens
// a pass has met so far.
func (s *Service) passHashes(text string, hashed map[string][]byte) [][]byte {
	toks := search.IndexTokens(text)
	out := make([][]byte, len(toks))
	var missing []string
	for i, t := range toks {
		if h, ok := hashed[t]; ok {
			out[i] = h
		} else {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return out
	}
	hs := s.Keys.Indexes("search", missing)
	for i, t := range missing {
		hashed[t] = hs[i]
	}
	for i, t := range toks {
		if out[i] == nil {
			out[i] = hashed[t]
		}
	}
	return out
}

// indexPass indexes one batch of the backlog and reports whether more may
// be waiting (a full batch, or conversations before the one it started
// after). Passes run one at a time on a node.
func (s *Service) indexPass(ctx context.Context) (more bool, err error) {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	if s.DB.SearchIndex() != s.DB {
		return s.indexFilePass(ctx)
	}
	q := s.DB.Read()
	// Round from where the last pass stopped, then from the start.
	from := s.indexAfter
	backlog, err := q.SearchBacklog(ctx, from, indexConvs)
	if err == nil && len(backlog) == 0 && from != "" {
		from = ""
		backlog, err = q.SearchBacklog(ctx, "", indexConvs)
	}
	if err != nil || len(backlog) == 0 {
		return false, err
	}
	msgs, err := q.BacklogMessages(ctx, backlog, indexMsgs)
	if err != nil {
		return false, err
	}
	// Every conversation read is done up to its last seq, but when the
	// batch was cut short: then the last one is done up to its last
	// message read, and those after it not at all.
	positions := make([]store.IndexBacklog, 0, len(backlog))
	truncated := len(msgs) == indexMsgs
	// The next pass starts after the last conversation this one finishes
	// (a cut-short one is taken up again).
	s.indexAfter = backlog[len(backlog)-1].ConvID
	if truncated {
		s.indexAfter = msgs[len(msgs)-1].ConvID
		if i := slices.IndexFunc(backlog, func(b store.IndexBacklog) bool { return b.ConvID == s.indexAfter }); i > 0 {
			s.indexAfter = backlog[i-1].ConvID
		} else {
			s.indexAfter = ""
		}
	}
	for _, b := range backlog {
		if truncated {
			last := msgs[len(msgs)-1]
			if b.ConvID > last.ConvID {
				break
			}
			if b.ConvID == last.ConvID {
				b.LastSeq = last.Seq
			}
		}
		positions = append(positions, store.IndexBacklog{ConvID: b.ConvID, IndexedSeq: b.LastSeq})
	}
	entries, err := s.indexEntries(ctx, msgs)
	if err != nil {
		return false, err
	}
	// The index is derived from stored messages, and a pass is redone from
	// the positions: its commits need not wait for the disk
	// (store.UpdateRelaxed), so they do not hold the writer through an
	// fsync that messages then wait behind.
	// (PostgreSQL: SQLite's index has its own file, indexFilePass.)
	if err := s.DB.UpdateRelaxed(ctx, func(q *store.Queries) error { return q.IndexMessages(ctx, entries) }); err != nil {
		return false, err
	}
	// After the tokens committed, the positions (a crash in between means
	// those messages are read again, and IndexMessages leaves them as they
	// are). SetIndexed skips a conversation a group commit holds, rather
	// than wait for it in an order that could deadlock.
	if err := s.DB.UpdateRelaxed(ctx, func(q *store.Queries) error { return q.SetIndexed(ctx, positions) }); err != nil {
		return false, err
	}
	return truncated || len(backlog) == indexConvs || from != "", nil
}

// indexEntries opens msgs and returns their token hashes.
func (s *Service) indexEntries(ctx context.Context, msgs []store.MessageRecord) ([]store.IndexEntry, error) {
	entries := make([]store.IndexEntry, 0, len(msgs))
	// A batch's messages share most of their words (and prefixes): each
	// distinct token is hashed once per pass.
	hashed := map[string][]byte{}
	for _, r := range msgs {
		pace.Step(ctx) // the runIndexer's passes rest now and then
		var b body
		if err := s.Open(ctx, r.SenderID, messageAD(r.ConvID, r.ID), r.Body, &b); err != nil {
			// A destroyed sender's or a damaged message has nothing to
			// index; anything else (a key store not answering) is tried
			// again by the next pass.
			if errors.Is(err, keyring.ErrShredded) || errors.Is(err, kernel.ErrIntegrity) {
				continue
			}
			return nil, err
		}
		text := b.Text
		if b.History != nil {
			text = historyText(*b.History)
		}
		if toks := s.passHashes(text, hashed); len(toks) > 0 {
			entries = append(entries, store.IndexEntry{ConvID: r.ConvID, Seq: r.Seq, Tokens: toks, SentAt: r.SentAt})
		}
	}
	return entries, nil
}

// indexFileMsgs is how many rows of the message log one pass reads when
// the index has a file of its own (SQLite): its transaction holds only
// the index file's writer, so a pass may be long, and a longer one shares
// more of the index's pages among its rows.
const indexFileMsgs = 1000

// indexHook, when set (tests), runs while a pass holds the index file's
// writer, before it commits.
var indexHook func()

// indexFilePass is indexPass on SQLite, whose search index is a file of
// its own (store/searchfile.go, sqlite/searchindex.go): it reads the
// message log after the index's position, writes the tokens and the new
// position in one transaction of the index file (never the message
// file's writer), and then applies what the message file's transactions
// asked to remove since. Run in this order under indexMu, a message read
// here before its recall or deletion is un-indexed by this pass or the
// next, never left behind.
func (s *Service) indexFilePass(ctx context.Context) (more bool, err error) {
	idx := s.DB.SearchIndex()
	pos, err := idx.Read().SearchPosition(ctx)
	if err != nil {
		return false, err
	}
	msgs, last, read, err := s.DB.Read().LogMessages(ctx, pos, indexFileMsgs)
	if err != nil {
		return false, err
	}
	if last.Rowid > pos {
		entries, err := s.indexEntries(ctx, msgs)
		if err != nil {
			return false, err
		}
		// Derived data, redone from the position after a crash: the commit
		// need not wait for the disk.
		err = idx.UpdateRelaxed(ctx, func(q *store.Queries) error {
			if err := q.IndexMessages(ctx, entries); err != nil {
				return err
			}
			if indexHook != nil {
				indexHook()
			}
			return q.SetSearchPosition(ctx, last)
		})
		if err != nil {
			return false, err
		}
	}
	n, err := s.applyUnindex(ctx)
	return read == indexFileMsgs || n > 0, err
}

// unindexQueueBatch is how many removal requests one index transaction
// takes.
const unindexQueueBatch = 1000

// applyUnindex applies one batch of removal requests (store.ApplyUnindexQueue);
// the caller holds indexMu.
func (s *Service) applyUnindex(ctx context.Context) (int, error) {
	n, err := s.DB.ApplyUnindexQueue(ctx, unindexQueueBatch)
	if n < unindexQueueBatch {
		n = 0
	}
	return n, err
}

// drainUnindex applies every removal request waiting (SQLite's index
// file; nothing elsewhere), between indexer passes: a purge and the
// expiry sweep call it so that their messages' words have left the index
// when they report done.
func (s *Service) drainUnindex(ctx context.Context) error {
	if s.DB.SearchIndex() == s.DB {
		return nil
	}
	for {
		s.indexMu.Lock()
		n, err := s.DB.ApplyUnindexQueue(ctx, unindexQueueBatch)
		s.indexMu.Unlock()
		if err != nil || n < unindexQueueBatch {
			return err
		}
	}
}
