package messaging

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/tkesj/tkesj/internal/store"
)

// writer is the group-commit writer: message writes from many requests are
// collected into one transaction, so they share one commit (one fsync), and
// each request is answered only after the commit that holds its write.
type writer struct {
	db      *store.DB
	in      chan writeReq
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
	w := &writer{db: db, in: make(chan writeReq, 4*maxBatch), maxSize: maxBatch, done: make(chan struct{}), stopped: make(chan struct{})}
	for i := 0; i < workers; i++ {
		w.wg.Add(1)
		go w.loop()
	}
	return w
}

// do runs fn in the next batch and returns its result once committed. fn
// gets ctx detached from its cancellation and must use that one: once a
// write is queued it is done whether or not its client is still there, and a
// cancelled request must not fail its own statement (or, on PostgreSQL, where
// a cancelled statement ends the connection, everyone's batch).
func (w *writer) do(ctx context.Context, fn func(ctx context.Context, q *store.Queries) error) error {
	req := writeReq{ctx: context.WithoutCancel(ctx), fn: fn, res: make(chan error, 1)}
	select {
	case w.in <- req:
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

func (w *writer) loop() {
	defer w.wg.Done()
	batch := make([]writeReq, 0, w.maxSize)
	fns := make([]func(q *store.Queries) error, 0, w.maxSize)
	for {
		batch, fns = batch[:0], fns[:0]
		select {
		case r := <-w.in:
			batch = append(batch, r)
		case <-w.done:
			return
		}
	fill:
		for len(batch) < w.maxSize {
			select {
			case r := <-w.in:
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
	for {
		select {
		case r := <-w.in:
			r.res <- errWriterClosed
		default:
			return
		}
	}
}

// Stats reports batches committed and writes in them.
func (w *writer) stats() (batches, writes uint64) { return w.batches.Load(), w.writes.Load() }

var errWriterClosed = errors.New("writer closed")
