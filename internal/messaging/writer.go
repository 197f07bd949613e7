package messaging

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj/internal/store"
)

// writer is the group-commit writer: message writes from many requests are
// collected into one transaction, so they share one commit (one fsync), and
// each request is answered only after the commit that holds its write.
type writer struct {
	db      *store.DB
	in      []chan writeReq // one per worker
	maxSize int
	done    chan struct{} // closed to stop the workers
	stopped chan struct{} // closed once they have stopped
	wg      sync.WaitGroup

	// batchAppends: consecutive message appends of a batch are stored by
	// one statement (store.AppendMessages; PostgreSQL, issue 17).
	batchAppends bool

	// linger is how long a batch may wait for more writes while they come
	// fast (loop); 0 commits as soon as the queue is empty.
	linger time.Duration

	batches, writes, appendStatements atomic.Uint64

	// onCommit, when set (ObserveCommits), is told how long each group
	// commit's transaction took.
	onCommit atomic.Pointer[func(time.Duration)]
}

// arrivals estimates how often writes come to a worker: an average of
// the gaps between them, each new gap weighing an eighth. It is what lets
// the writer linger only under load: at 1,000 msg/s a batch committed as
// soon as the queue was empty held 1.1 writes, and each commit costs
// ~0.5 ms of CPU whatever it holds (its fsync, the locks, the wake-ups),
// so commits were most of the CPU well below the sustained rate (issue 17).
// A quiet conversation's message is never held: one write after a pause
// sees a long average.
type arrivals struct {
	last time.Time
	avg  time.Duration
}

func (a *arrivals) add(now time.Time) {
	if a.last.IsZero() {
		a.last, a.avg = now, time.Second
		return
	}
	gap := min(now.Sub(a.last), time.Second)
	a.last = now
	a.avg += (gap - a.avg) / 8
}

type writeReq struct {
	ctx context.Context // the caller's, without its cancellation
	fn  func(ctx context.Context, q *store.Queries) error
	app *appendReq // a message append (doAppend): fn is nil then
	res chan error
}

// appendReq is a message append: rec is stored by store.AppendMessage or,
// with the appends queued next to it, by one store.AppendMessages; then
// does the rest of the write with the result, in the same transaction.
// batched says the result came from AppendMessages, whose MemberVersion
// is then the conversation's member version under the row lock the seq was
// taken with (AppendMessage does not read it).
type appendReq struct {
	rec  store.MessageRecord
	then func(ctx context.Context, q *store.Queries, a store.Appended, batched bool) error
}

func newWriter(db *store.DB, workers, maxBatch int, linger time.Duration) *writer {
	if workers <= 0 {
		workers = 1
	}
	if maxBatch <= 0 {
		maxBatch = 256
	}
	w := &writer{db: db, in: make([]chan writeReq, workers), maxSize: maxBatch, done: make(chan struct{}), stopped: make(chan struct{}),
		batchAppends: db.Dialect() == "postgres", linger: max(linger, 0)}
	for i := range w.in {
		w.in[i] = make(chan writeReq, 4*maxBatch)
		w.wg.Add(1)
		go w.loop(w.in[i])
	}
	return w
}

// shard is the worker that writes for a conversation. With several workers
// (PostgreSQL, issue 17) each conversation's writes go through one of
// them: a group commit takes its conversations' rows in the order its
// messages came, so two workers sharing conversations would deadlock, and
// a conversation's messages keep the order they were sent in.
func (w *writer) shard(convID string) chan writeReq {
	if len(w.in) == 1 {
		return w.in[0]
	}
	h := fnv.New32a()
	h.Write([]byte(convID))
	return w.in[h.Sum32()%uint32(len(w.in))]
}

// do runs fn in the next batch of the worker for convID (the conversation
// whose rows fn writes) and returns its result once committed. fn
// gets ctx detached from its cancellation and must use that one: once a
// write is queued it is done whether or not its client is still there, and a
// cancelled request must not fail its own statement (or, on PostgreSQL, where
// a cancelled statement ends the connection, everyone's batch).
func (w *writer) do(ctx context.Context, convID string, fn func(ctx context.Context, q *store.Queries) error) error {
	return w.queue(ctx, convID, writeReq{fn: fn})
}

// doAppend is do for a message append (appendReq): rec is stored, then
// then runs, both in the next batch of rec's conversation's worker. then
// may run twice, like any writer fn (store.UpdateBatch), the second time
// with a result of store.AppendMessage.
func (w *writer) doAppend(ctx context.Context, rec store.MessageRecord, then func(ctx context.Context, q *store.Queries, a store.Appended, batched bool) error) error {
	return w.queue(ctx, rec.ConvID, writeReq{app: &appendReq{rec: rec, then: then}})
}

func (w *writer) queue(ctx context.Context, convID string, req writeReq) error {
	req.ctx, req.res = context.WithoutCancel(ctx), make(chan error, 1)
	select {
	case w.shard(convID) <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		return errWriterClosed
	}
	// Once queued, the write happens whether or not the caller waits: a
	// client that gave up may still find its message there on retry (the
	// client id makes that retry idempotent).
	select {
	case err := <-req.res:
		return err
	case <-w.stopped:
		select {
		case err := <-req.res:
			return err
		default:
			return errWriterClosed
		}
	}
}

func (w *writer) loop(in chan writeReq) {
	defer w.wg.Done()
	batch := make([]writeReq, 0, w.maxSize)
	fns := make([]func(q *store.Queries) error, 0, w.maxSize)
	var rate arrivals
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		batch, fns = batch[:0], fns[:0]
		select {
		case r := <-in:
			batch = append(batch, r)
		case <-w.done:
			return
		}
		first := time.Now()
		rate.add(first)
	fill:
		for len(batch) < w.maxSize {
			select {
			case r := <-in:
				batch = append(batch, r)
				rate.add(time.Now())
			default:
				break fill
			}
		}
		// Linger (see arrivals): while writes come faster than one per
		// w.linger, the batch waits for more until its first write has
		// waited w.linger, so that a commit's fixed cost is shared. A
		// write never waits longer than that for others.
		if w.linger > 0 && len(batch) < w.maxSize && rate.avg < w.linger {
			if wait := w.linger - time.Since(first); wait > 0 {
				linger.Reset(wait)
			gather:
				for len(batch) < w.maxSize {
					select {
					case r := <-in:
						batch = append(batch, r)
						rate.add(time.Now())
					case <-linger.C:
						break gather
					}
				}
				if !linger.Stop() {
					select {
					case <-linger.C:
					default:
					}
				}
			}
		}
		fns = w.fns(batch, fns)
		start := time.Now()
		errs := w.db.UpdateBatch(context.Background(), fns)
		if f := w.onCommit.Load(); f != nil {
			(*f)(time.Since(start))
		}
		w.batches.Add(1)
		w.writes.Add(uint64(len(batch)))
		for i, r := range batch {
			r.res <- errs[i]
		}
	}
}

// fns are the batch's writes for store.UpdateBatch. With batchAppends,
// each run of consecutive appends is stored by one AppendMessages, at the
// place of its first (so writes keep the order they were queued in: a
// timer change queued before a send still applies to it), and each
// append's then gets its slot of the result. That is only right while
// the transaction commits every write of the batch or none: the first
// time UpdateBatch runs a batch of several writes (no savepoints; a
// failing write rolls it all back). When it runs the batch again, with a
// savepoint around each write, each append is stored by its own
// AppendMessage, so a failing one takes nothing of the others with it.
func (w *writer) fns(batch []writeReq, fns []func(q *store.Queries) error) []func(q *store.Queries) error {
	run := 0                                     // the runs of the batch so far, counted by its first write
	var got []store.Appended                     // the appends' results, by index in batch
	var gotIn []int                              // the run each result was stored in
	batching := w.batchAppends && len(batch) > 1 // one write: nothing to share
	for i, r := range batch {
		var fn func(q *store.Queries) error
		switch {
		case r.app == nil:
			fn = func(q *store.Queries) error { return r.fn(r.ctx, q) }
		default:
			end := i + 1
			for end < len(batch) && batch[end].app != nil {
				end++
			}
			first := i == 0 || batch[i-1].app == nil
			fn = func(q *store.Queries) error {
				if batching && run == 1 && first && end-i > 1 {
					if got == nil {
						got, gotIn = make([]store.Appended, len(batch)), make([]int, len(batch))
					}
					recs := make([]store.MessageRecord, 0, end-i)
					for _, b := range batch[i:end] {
						recs = append(recs, b.app.rec)
					}
					w.appendStatements.Add(1)
					res, err := q.AppendMessages(r.ctx, recs)
					if err != nil {
						return err
					}
					copy(got[i:end], res)
					for k := i; k < end; k++ {
						gotIn[k] = run
					}
				}
				if got != nil && gotIn[i] == run {
					return r.app.then(r.ctx, q, got[i], true)
				}
				var a store.Appended
				var err error
				if a.Seq, a.ExpiresAt, a.OK, err = q.AppendMessage(r.ctx, r.app.rec); err != nil {
					return err
				}
				return r.app.then(r.ctx, q, a, false)
			}
		}
		if i == 0 {
			inner := fn
			fn = func(q *store.Queries) error {
				run++
				return inner(q)
			}
		}
		fns = append(fns, fn)
	}
	return fns
}

// close stops the workers after the batches under way; queued writes that
// were not taken fail.
func (w *writer) close() {
	close(w.done)
	w.wg.Wait()
	close(w.stopped)
	for _, in := range w.in {
	drain:
		for {
			select {
			case r := <-in:
				r.res <- errWriterClosed
			default:
				break drain
			}
		}
	}
}

// Stats reports batches committed and writes in them.
func (w *writer) stats() (batches, writes uint64) { return w.batches.Load(), w.writes.Load() }

var errWriterClosed = errors.New("writer closed")
