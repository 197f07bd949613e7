// Package bustest is the conformance suite every tkesj.Bus must pass. The
// inmem and natsbus packages run it from their tests; adding a test here
// adds it to every bus at once. Only tests may import it.
package bustest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
)

// Wait bounds every wait for a delivery. Nothing in the suite sleeps to let
// something happen: each check waits for a positive sign, up to Wait.
const Wait = 5 * time.Second

// Run runs the whole suite against the bus that open makes.
//
// Every call of open within one test must return a node of one deployment:
// an event published on any of them reaches subscribers on all of them. A
// multi-node bus returns a new node (its own connection) on each call; an
// in-process bus returns the same Bus each time. open registers the
// closing of what it opens with t.Cleanup; the suite may close it first.
//
// A bus with a method Dropped() uint64 is held to dropping, and counting,
// the events of a subscriber that does not keep up.
func Run(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) tkesj.Bus)
	}{
		{"a published event reaches every subscriber intact", testIntact},
		{"an event published on one node reaches subscribers on another", testTwoNodes},
		{"one publisher's 1000 events arrive in order on every node", testOrder},
		{"unsubscribing stops delivery to that subscriber only", testUnsubscribe},
		{"a handler may unsubscribe itself", testUnsubscribeFromHandler},
		{"the publisher may reuse its slices once Publish returns", testPublisherReuse},
		{"Publish and Subscribe fail after Close", testClosed},
		{"a closed node no longer delivers while the others do", testCloseOneNode},
		{"concurrent publishers each keep their order", testConcurrentPublishers},
		{"a blocked subscriber stops neither Publish nor other subscribers", testBlockedSubscriber},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

// recorder is a handler that keeps what it receives.
type recorder struct {
	mu     sync.Mutex
	events []tkesj.Event
	notify chan struct{} // signalled after each event
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

func (r *recorder) handle(e tkesj.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) got() []tkesj.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// waitFor waits until r holds at least n events and returns them; after
// Wait it fails the test.
func (r *recorder) waitFor(t *testing.T, what string, n int) []tkesj.Event {
	t.Helper()
	deadline := time.NewTimer(Wait)
	defer deadline.Stop()
	for {
		if got := r.got(); len(got) >= n {
			return got
		}
		select {
		case <-r.notify:
		case <-deadline.C:
			t.Fatalf("%s received %d events within %v, want %d", what, r.len(), Wait, n)
			return nil
		}
	}
}

// mustSubscribe subscribes r to bus and unsubscribes at cleanup.
func mustSubscribe(t *testing.T, bus tkesj.Bus, r *recorder) func() {
	t.Helper()
	unsub, err := bus.Subscribe(r.handle)
	if err != nil {
		t.Fatalf("Subscribe = %v", err)
	}
	t.Cleanup(unsub)
	return unsub
}

// mustPublish publishes e and fails the test if Publish errs or does not
// return within Wait (an implementation that blocks would otherwise hang).
func mustPublish(t *testing.T, bus tkesj.Bus, e tkesj.Event) {
	t.Helper()
	if err := publishWithin(bus, e, Wait); err != nil {
		t.Fatal(err)
	}
}

func publishWithin(bus tkesj.Bus, e tkesj.Event, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- bus.Publish(ctx, e) }()
	timer := time.NewTimer(d + time.Second)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("Publish(%s) = %w, want nil", e.Frame, err)
		}
		return nil
	case <-timer.C:
		return fmt.Errorf("Publish(%s) did not return within %v", e.Frame, d+time.Second)
	}
}

// numbered is event n of publisher p.
func numbered(p string, n int) tkesj.Event {
	return tkesj.Event{Users: []string{"u-" + p}, Frame: fmt.Appendf(nil, `{"p":%q,"n":%d}`, p, n)}
}

func equal(a, b tkesj.Event) bool {
	// nil and empty are the same event: JSON cannot tell them apart.
	return slices.Equal(a.Users, b.Users) && bytes.Equal(a.Frame, b.Frame) &&
		a.Control == b.Control && bytes.Equal(a.DeviceIdx, b.DeviceIdx)
}

func format(e tkesj.Event) string {
	frame := string(e.Frame)
	if len(frame) > 60 {
		frame = frame[:60] + "..."
	}
	return fmt.Sprintf("{Users:%q Frame:%q Control:%q DeviceIdx:%x}", e.Users, frame, e.Control, e.DeviceIdx)
}

func testIntact(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	bus := open(t)
	subs := []*recorder{newRecorder(), newRecorder(), newRecorder()}
	for _, r := range subs {
		mustSubscribe(t, bus, r)
	}
	events := []struct {
		name string
		e    tkesj.Event
	}{
		{"a message frame for two users", tkesj.Event{Users: []string{"alice", "bob"}, Frame: []byte(`{"type":"message","id":"m1","text":"héllo ✓"}`)}},
		{"a close_device control with its device index", tkesj.Event{Users: []string{"alice"}, Control: "close_device", DeviceIdx: []byte{0, 1, 0xfe, 0xff}}},
		{"a close_user control with a frame as well", tkesj.Event{Users: []string{"carol"}, Frame: []byte(`{"type":"signed_out"}`), Control: "close_user"}},
		{"a frame of arbitrary bytes", tkesj.Event{Users: []string{"dave"}, Frame: []byte{0, 0xc3, 0x28, '"', '\\', 0xff}}},
		{"a 64 KiB frame for many users", tkesj.Event{Users: manyUsers(500), Frame: bytes.Repeat([]byte("x"), 64<<10)}},
		{"an event for nobody", tkesj.Event{Frame: []byte(`{}`)}},
	}
	for i, ev := range events {
		mustPublish(t, bus, ev.e)
		for j, r := range subs {
			got := r.waitFor(t, fmt.Sprintf("subscriber %d", j), i+1)
			if !equal(got[i], ev.e) {
				t.Errorf("%s: subscriber %d got %s, want %s", ev.name, j, format(got[i]), format(ev.e))
			}
		}
	}
}

func manyUsers(n int) []string {
	u := make([]string, n)
	for i := range u {
		u[i] = fmt.Sprintf("user-%04d", i)
	}
	return u
}

func testTwoNodes(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	nodeA, nodeB := open(t), open(t)
	onA, onB := newRecorder(), newRecorder()
	mustSubscribe(t, nodeA, onA)
	mustSubscribe(t, nodeB, onB)

	fromA := tkesj.Event{Users: []string{"alice"}, Frame: []byte(`{"from":"A"}`)}
	fromB := tkesj.Event{Users: []string{"bob"}, Frame: []byte(`{"from":"B"}`), Control: "close_device", DeviceIdx: []byte{7}}
	mustPublish(t, nodeA, fromA)
	for name, r := range map[string]*recorder{"node A": onA, "node B": onB} {
		if got := r.waitFor(t, name, 1); !equal(got[0], fromA) {
			t.Errorf("%s got %s, want %s", name, format(got[0]), format(fromA))
		}
	}
	mustPublish(t, nodeB, fromB)
	for name, r := range map[string]*recorder{"node A": onA, "node B": onB} {
		if got := r.waitFor(t, name, 2); !equal(got[1], fromB) {
			t.Errorf("%s got %s, want %s", name, format(got[1]), format(fromB))
		}
	}
}

func testOrder(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	const n = 1000
	nodeA, nodeB := open(t), open(t)
	onA, onB := newRecorder(), newRecorder()
	mustSubscribe(t, nodeA, onA)
	mustSubscribe(t, nodeB, onB)
	for i := range n {
		mustPublish(t, nodeA, numbered("a", i))
	}
	for name, r := range map[string]*recorder{"node A": onA, "node B": onB} {
		got := r.waitFor(t, name, n)
		if len(got) != n {
			t.Fatalf("%s received %d events, want %d", name, len(got), n)
		}
		for i, e := range got {
			if want := numbered("a", i); !equal(e, want) {
				t.Fatalf("%s: event %d = %s, want %s", name, i, format(e), format(want))
			}
		}
	}
}

func testUnsubscribe(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	bus := open(t)
	gone, stays := newRecorder(), newRecorder()
	unsub := mustSubscribe(t, bus, gone)
	mustSubscribe(t, bus, stays)

	mustPublish(t, bus, numbered("u", 0))
	gone.waitFor(t, "the subscriber before unsubscribing", 1)
	stays.waitFor(t, "the other subscriber", 1)

	unsub()
	unsub() // a second call is harmless
	const more = 20
	for i := 1; i <= more; i++ {
		mustPublish(t, bus, numbered("u", i))
	}
	// Once the other subscriber has every event, any delivery to the
	// unsubscribed one would have had as long to happen.
	stays.waitFor(t, "the other subscriber", 1+more)
	if got := gone.got(); len(got) != 1 {
		t.Errorf("after unsubscribe, the subscriber received %d more events, want 0 (last: %s)", len(got)-1, format(got[len(got)-1]))
	}
}

func testUnsubscribeFromHandler(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	bus := open(t)
	witness := newRecorder()
	mustSubscribe(t, bus, witness)

	var (
		mu    sync.Mutex
		calls int
		unsub func()
	)
	ready := make(chan struct{})
	u, err := bus.Subscribe(func(tkesj.Event) {
		<-ready
		mu.Lock()
		calls++
		mu.Unlock()
		unsub() // must not deadlock
	})
	if err != nil {
		t.Fatalf("Subscribe = %v", err)
	}
	t.Cleanup(u)
	unsub = u
	close(ready)

	for i := range 5 {
		mustPublish(t, bus, numbered("h", i))
	}
	witness.waitFor(t, "the other subscriber", 5)
	// Each subscription has its own goroutine: on a loaded machine the
	// handler may not have run yet when the witness has everything. Wait
	// for its first (and only) call before checking there are no more.
	deadline := time.Now().Add(Wait)
	for {
		mu.Lock()
		n := calls
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The handler unsubscribed during its first call; give it as long as
	// the witness took to receive a second one, then require it did not.
	mustPublish(t, bus, numbered("h", 5))
	witness.waitFor(t, "the other subscriber", 6)
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("a handler that unsubscribed in its first call was called %d times, want 1", calls)
	}
}

func testPublisherReuse(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	bus := open(t)
	r := newRecorder()
	mustSubscribe(t, bus, r)
	e := tkesj.Event{Users: []string{"alice"}, Frame: []byte(`{"n":1}`), DeviceIdx: []byte{1}}
	want := tkesj.Event{Users: slices.Clone(e.Users), Frame: slices.Clone(e.Frame), DeviceIdx: slices.Clone(e.DeviceIdx)}
	mustPublish(t, bus, e)
	e.Users[0], e.Frame[5], e.DeviceIdx[0] = "mallory", '9', 9
	if got := r.waitFor(t, "the subscriber", 1); !equal(got[0], want) {
		t.Errorf("after the publisher reused its slices, the subscriber got %s, want %s", format(got[0]), format(want))
	}
}

func testClosed(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	bus := open(t)
	if err := bus.Close(); err != nil {
		t.Fatalf("Close = %v, want nil", err)
	}
	if err := bus.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	err := publishWithin(bus, numbered("c", 0), Wait)
	if err == nil {
		t.Fatal("Publish after Close = nil, want an error")
	}
	if !strings.Contains(err.Error(), "publish event") {
		t.Errorf("Publish after Close = %v, want it wrapped as \"publish event: ...\"", err)
	}
	if kind := tkesj.ErrorKindOf(err); kind != tkesj.EUnavailable {
		t.Errorf("Publish after Close = %v (kind %s), want kind %s", err, kind, tkesj.EUnavailable)
	}
	if unsub, err := bus.Subscribe(func(tkesj.Event) {}); err == nil {
		unsub()
		t.Error("Subscribe after Close = nil error, want an error")
	}
}

func testCloseOneNode(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	nodeA, nodeB := open(t), open(t)
	if nodeA == nodeB {
		t.Skip("a one-node bus has no other node to keep running")
	}
	onA, onB := newRecorder(), newRecorder()
	mustSubscribe(t, nodeA, onA)
	mustSubscribe(t, nodeB, onB)
	mustPublish(t, nodeA, numbered("x", 0))
	onB.waitFor(t, "node B", 1)

	if err := nodeB.Close(); err != nil {
		t.Fatalf("Close(node B) = %v", err)
	}
	const more = 20
	for i := 1; i <= more; i++ {
		mustPublish(t, nodeA, numbered("x", i))
	}
	onA.waitFor(t, "node A", 1+more)
	if got := onB.len(); got != 1 {
		t.Errorf("closed node B received %d more events, want 0", got-1)
	}
}

func testConcurrentPublishers(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	const publishers, each = 8, 100
	nodes := []tkesj.Bus{open(t), open(t)}
	recs := []*recorder{newRecorder(), newRecorder()}
	for i, r := range recs {
		mustSubscribe(t, nodes[i], r)
	}
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := range publishers {
		wg.Go(func() {
			node := nodes[p%len(nodes)]
			for i := range each {
				if err := publishWithin(node, numbered(fmt.Sprint(p), i), Wait); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, r := range recs {
		got := r.waitFor(t, fmt.Sprintf("the subscriber on node %d", i), publishers*each)
		if len(got) != publishers*each {
			t.Fatalf("node %d received %d events, want %d", i, len(got), publishers*each)
		}
		next := make(map[string]int) // publisher -> next number expected
		for _, e := range got {
			p := strings.TrimPrefix(e.Users[0], "u-")
			if want := numbered(p, next[p]); !equal(e, want) {
				t.Fatalf("node %d: got %s after %d events of publisher %s, want %s", i, format(e), next[p], p, format(want))
			}
			next[p]++
		}
	}
}

func testBlockedSubscriber(t *testing.T, open func(t *testing.T) tkesj.Bus) {
	bus := open(t)
	release := make(chan struct{})
	blocked := make(chan struct{}, 1)
	unsub, err := bus.Subscribe(func(tkesj.Event) {
		select {
		case blocked <- struct{}{}:
		default:
		}
		<-release
	})
	if err != nil {
		t.Fatalf("Subscribe = %v", err)
	}
	// Cleanups run last-in first-out: unblock before the bus closes.
	t.Cleanup(unsub)
	t.Cleanup(func() { close(release) })
	fast := newRecorder()
	mustSubscribe(t, bus, fast)

	mustPublish(t, bus, numbered("b", 0))
	select {
	case <-blocked:
	case <-time.After(Wait):
		t.Fatalf("the blocking subscriber was not called within %v", Wait)
	}
	fast.waitFor(t, "the fast subscriber", 1)

	// Publish in steps of a few events, each step received by the fast
	// subscriber before the next, so that only the blocked one can fall
	// behind. A bus that drops is pushed until it drops; any other gets
	// more events than a client-side buffer would hold.
	const step = 16
	dropper, drops := bus.(interface{ Dropped() uint64 })
	var before uint64
	limit := 600
	if drops {
		before = dropper.Dropped()
		limit = 100_000
	}
	var slowest time.Duration
	n := 1
	for n < limit && !(drops && dropper.Dropped() > before) {
		for range step {
			start := time.Now()
			mustPublish(t, bus, numbered("b", n))
			slowest = max(slowest, time.Since(start))
			n++
		}
		fast.waitFor(t, "the fast subscriber", n)
	}
	if slowest > time.Second {
		t.Errorf("with a subscriber blocked, the slowest Publish took %v, want under 1s", slowest)
	}
	got := fast.got()
	for i, e := range got {
		if want := numbered("b", i); !equal(e, want) {
			t.Fatalf("the fast subscriber's event %d = %s, want %s", i, format(e), format(want))
		}
	}
	if drops {
		if d := dropper.Dropped() - before; d == 0 {
			t.Errorf("after %d events to a blocked subscriber, Dropped rose by 0, want more", n)
		}
	}
	t.Logf("published %d events with one subscriber blocked; slowest Publish %v", n, slowest)
}
