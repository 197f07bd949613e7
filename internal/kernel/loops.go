package kernel

import (
	"context"
	"sync"
)

// Loops is the one lifecycle of the service's background loops (the purger,
// operations, push timers, export heartbeats): Go starts a loop with a
// context that Stop cancels, and Stop returns once every loop has returned.
// Capabilities start their loops in New or Start; internal/service's Close
// stops them all before the store closes.
type Loops struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
}

// NewLoops returns an empty, running set of loops.
func NewLoops() *Loops {
	ctx, cancel := context.WithCancel(context.Background())
	return &Loops{ctx: ctx, cancel: cancel}
}

// Go runs fn in its own goroutine until Stop; fn must return once ctx ends.
// After Stop, Go does nothing.
func (l *Loops) Go(fn func(ctx context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		fn(l.ctx)
	}()
}

// Stop cancels every loop and waits for them to return. It is idempotent.
func (l *Loops) Stop() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cancel()
	l.wg.Wait()
}
