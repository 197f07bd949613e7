package messaging

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
	"sync/atomic"

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

	batches, writes atomic.Uint64
}

type writeReq struct {
	ctx context.Context // the caller's, without its cancellation
	fn  func(ctx context.Context, q *store.Queries) error
	res chan error
}

func newWriter(db *store.DB, workers, maxBatch int) *writer {
	if workers <= 0 {
		workers = 1
	}
	if maxBatch <= 0 {
		maxBatch = 256
	}
	w := &writer{db: db, in: make([]chan writeReq, workers), maxSize: maxBatch, done: make(chan struct{}), stopped: make(chan struct{})}
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
	req := writeReq{ctx: context.WithoutCancel(ctx), fn: fn, res: make(chan error, 1)}
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
	for {
		batch, fns = batch[:0], fns[:0]
		select {
		case r := <-in:
			batch = append(batch, r)
		case <-w.done:
			return
		}
	fill:
		for len(batch) < w.maxSize {
			select {
			case r := <-in:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		for _, r := range batch {
			fns = append(fns, func(q *store.Queries) error { return r.fn(r.ctx, q) })
		}
		errs := w.db.UpdateBatch(context.Background(), fns)
		w.batches.Add(1)
		w.writes.Add(uint64(len(batch)))
		for i, r := range batch {
			r.res <- errs[i]
		}
	}
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
