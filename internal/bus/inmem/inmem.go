// Package inmem is the in-process event bus, for a deployment of one node.
// It implements tkesj.Bus; only the wiring in internal/app (and tests) should
// import it. Other packages depend on tkesj.Bus, never on this package.
package inmem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/tkesj/tkesj"
)

// DefaultBuffer is the queue length of each subscription when New is given
// zero or less.
const DefaultBuffer = 4096

// Bus is an in-process tkesj.Bus. Each subscription has its own goroutine
// and a bounded queue; Publish never waits for a subscriber. When a
// subscriber's queue is full the event is dropped for that subscriber only
// and counted in Dropped. Bus is safe for concurrent use.
type Bus struct {
	buffer  int
	dropped atomic.Uint64

	mu     sync.RWMutex
	subs   map[*subscription]struct{}
	closed bool
}

var _ tkesj.Bus = (*Bus)(nil)

// New returns a bus whose subscriptions each queue up to bufferPerSubscriber
// events (DefaultBuffer when it is zero or less).
func New(bufferPerSubscriber int) *Bus {
	if bufferPerSubscriber <= 0 {
		bufferPerSubscriber = DefaultBuffer
	}
	return &Bus{buffer: bufferPerSubscriber, subs: make(map[*subscription]struct{})}
}

type subscription struct {
	queue chan tkesj.Event
	done  chan struct{} // closed when the subscription ends
	once  sync.Once
}

func (s *subscription) end() { s.once.Do(func() { close(s.done) }) }

func (s *subscription) ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// errClosed is the cause behind every error from a closed bus.
var errClosed = errors.New("inmem: bus closed")

func closedError() error {
	return &tkesj.Error{Kind: tkesj.EUnavailable, Code: "bus_closed", Message: "the event bus is shutting down; try again", Err: errClosed}
}

// Publish queues e for every current subscriber and returns without waiting
// for any of them. The event is copied once, so the caller may reuse its
// slices; subscribers share the copy and must not modify it. Publish
// returns an *tkesj.Error of kind EUnavailable after Close, and ctx's error
// when ctx is already done.
func (b *Bus) Publish(ctx context.Context, e tkesj.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish event: %w", err)
	}
	e = clone(e)
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return fmt.Errorf("publish event: %w", closedError())
	}
	for s := range b.subs {
		// Sending under the read lock keeps each publisher's events in
		// order for every subscriber; the send never blocks.
		select {
		case s.queue <- e:
		default:
			b.dropped.Add(1)
		}
	}
	return nil
}

// Subscribe starts a goroutine that calls fn for each event published after
// Subscribe returns, in publish order. A call of fn that is slow only delays
// (and, once its queue is full, drops) this subscription's events.
//
// unsubscribe ends the subscription: events published after it returns are
// never passed to fn, and queued ones are discarded. It does not wait for a
// call of fn already running, so fn may itself call unsubscribe. It may be
// called more than once.
func (b *Bus) Subscribe(fn func(tkesj.Event)) (unsubscribe func(), err error) {
	if fn == nil {
		return nil, fmt.Errorf("subscribe: %w", tkesj.Errorf(tkesj.EInvalid, "nil_handler", "the event handler is missing"))
	}
	s := &subscription{queue: make(chan tkesj.Event, b.buffer), done: make(chan struct{})}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("subscribe: %w", closedError())
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()

	go s.deliver(fn)
	return func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.end()
	}, nil
}

func (s *subscription) deliver(fn func(tkesj.Event)) {
	for {
		select {
		case <-s.done:
			return
		case e := <-s.queue:
			// select picks at random among ready cases: check again so
			// that an ended subscription starts no further call.
			if s.ended() {
				return
			}
			fn(e)
		}
	}
}

// Close ends every subscription, discarding queued events, and makes later
// calls of Publish and Subscribe fail. It does not wait for calls of fn
// already running. Closing twice is not an error.
func (b *Bus) Close() error {
	b.mu.Lock()
	subs := b.subs
	b.subs = make(map[*subscription]struct{})
	b.closed = true
	b.mu.Unlock()
	for s := range subs {
		s.end()
	}
	return nil
}

// Dropped reports how many deliveries were dropped, over all subscriptions
// since New, because a subscriber's queue was full.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }

// QueueDepth reports how many events wait in the queues of all current
// subscriptions together.
func (b *Bus) QueueDepth() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := 0
	for s := range b.subs {
		n += len(s.queue)
	}
	return n
}

func clone(e tkesj.Event) tkesj.Event {
	e.Users = slices.Clone(e.Users)
	e.Frame = slices.Clone(e.Frame)
	e.DeviceIdx = slices.Clone(e.DeviceIdx)
	return e
}
