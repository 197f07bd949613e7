package presence_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/bus/inmem"
	"github.com/tkesj/tkesj/internal/presence"
)

// wait bounds every wait here; nothing should take nearly as long.
const wait = 10 * time.Second

func mustNew(tb testing.TB, bus tkesj.Bus, opts presence.Options) *presence.Presence {
	tb.Helper()
	p, err := presence.New(bus, opts)
	if err != nil {
		tb.Fatalf("presence.New = %v", err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// waitOnline waits until p says what want about user.
func waitOnline(tb testing.TB, p *presence.Presence, user string, want bool) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for p.Online(user) != want {
		if time.Now().After(deadline) {
			tb.Fatalf("Online(%q) is still %v after %v, want %v", user, !want, wait, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cuttable is a node's link to the bus that a test can cut, as a kill -9
// or a lost network would: from then on it publishes nothing, without a
// goodbye.
type cuttable struct {
	tkesj.Bus
	cut atomic.Bool
}

func (c *cuttable) Publish(ctx context.Context, e tkesj.Event) error {
	if c.cut.Load() {
		return nil
	}
	return c.Bus.Publish(ctx, e)
}

// Issue 17: presence on one node is exactly the hub's word, with no bus.
func TestOneNode(t *testing.T) {
	p := mustNew(t, nil, presence.Options{})
	if p.Online("u1") {
		t.Fatal("Online(u1) = true before any socket")
	}
	p.Set("u1", true)
	if !p.Online("u1") {
		t.Error("Online(u1) = false after its first socket opened")
	}
	if p.Online("u2") {
		t.Error("Online(u2) = true; only u1 connected")
	}
	p.Set("u1", false)
	if p.Online("u1") {
		t.Error("Online(u1) = true after its last socket went")
	}
	if st := p.Stats(); st.Local != 0 || st.Remote != 0 {
		t.Errorf("Stats = %+v, want nobody held", st)
	}
}

// Issue 17: someone online on one node is online for the other, and away
// once their last socket there goes.
func TestAcrossNodes(t *testing.T) {
	bus := inmem.New(0)
	defer bus.Close()
	a := mustNew(t, bus, presence.Options{Heartbeat: time.Hour})
	b := mustNew(t, bus, presence.Options{Heartbeat: time.Hour})

	a.Set("u1", true)
	waitOnline(t, b, "u1", true)
	if b.Stats().Local != 0 {
		t.Error("node b counts a's person as its own")
	}
	b.Set("u1", true) // a second device, on b
	a.Set("u1", false)
	waitOnline(t, a, "u1", true) // still on b
	time.Sleep(50 * time.Millisecond)
	if !b.Online("u1") {
		t.Error("Online(u1) on b = false while u1 has a socket on b")
	}
	b.Set("u1", false)
	waitOnline(t, a, "u1", false)
	waitOnline(t, b, "u1", false)
}

// Issue 17: a node that starts learns who is online elsewhere at once (its
// hello asks the others to list their people), not a heartbeat later.
func TestNewNodeLearnsAtOnce(t *testing.T) {
	bus := inmem.New(0)
	defer bus.Close()
	a := mustNew(t, bus, presence.Options{Heartbeat: time.Hour})
	a.Set("early", true)
	b := mustNew(t, bus, presence.Options{Heartbeat: time.Hour})
	waitOnline(t, b, "early", true)
}

// Issue 17: a node that stops says goodbye, and its people are away at once.
func TestGoodbye(t *testing.T) {
	bus := inmem.New(0)
	defer bus.Close()
	a := mustNew(t, bus, presence.Options{Heartbeat: time.Hour})
	b := mustNew(t, bus, presence.Options{Heartbeat: time.Hour})
	a.Set("u1", true)
	waitOnline(t, b, "u1", true)
	a.Close()
	waitOnline(t, b, "u1", false)
}

// Issue 17: the people of a node that dies without a word (kill -9) count as
// away within 2×Heartbeat of its last heartbeat, and not before: while the
// node lives, its heartbeats keep them online however long.
func TestNodeExpiresWhenItsHeartbeatStops(t *testing.T) {
	const hb = 200 * time.Millisecond
	bus := inmem.New(0)
	defer bus.Close()
	link := &cuttable{Bus: bus}
	a := mustNew(t, link, presence.Options{Heartbeat: hb})
	b := mustNew(t, bus, presence.Options{Heartbeat: hb})
	a.Set("u1", true)
	waitOnline(t, b, "u1", true)
	for i := range 10 {
		time.Sleep(hb / 2)
		if !b.Online("u1") {
			t.Fatalf("Online(u1) = false %v after it connected, while its node's heartbeat runs", time.Duration(i+1)*hb/2)
		}
	}
	link.cut.Store(true)
	cut := time.Now()
	waitOnline(t, b, "u1", false)
	// Heard last at or before the cut, so gone by 2×hb after it (with room
	// for a busy machine to run the check late).
	if took := time.Since(cut); took > 2*hb+time.Second {
		t.Errorf("u1 counted online %v after its node died; want at most 2×heartbeat (%v)", took, 2*hb)
	}
	// The sweep, every heartbeat, frees what expired.
	deadline := time.Now().Add(wait)
	for b.Stats().Remote != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("Stats().Remote = %d; expired entries were never swept", b.Stats().Remote)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Issue 17 (STYLE rule 12): the remote entries held are bounded; beyond the
// bound people count as away (they may get a push) and the refusals are
// counted.
func TestRemoteEntriesBounded(t *testing.T) {
	bus := inmem.New(0)
	defer bus.Close()
	a := mustNew(t, bus, presence.Options{Heartbeat: time.Hour})
	b := mustNew(t, bus, presence.Options{Heartbeat: time.Hour, MaxRemote: 2})
	for _, u := range []string{"u1", "u2", "u3"} {
		a.Set(u, true)
	}
	deadline := time.Now().Add(wait)
	for st := b.Stats(); st.Remote < 2 || st.Refused < 1; st = b.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("Stats = %+v; want 2 entries held and the third refused", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Heartbeats offer the third again; it is refused again, never held.
	if st := b.Stats(); st.Remote != 2 {
		t.Errorf("Stats = %+v, want 2 held", st)
	}
	n := 0
	for _, u := range []string{"u1", "u2", "u3"} {
		if b.Online(u) {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d of the 3 count as online on b, want the 2 held", n)
	}
}

// Issue 17: a heartbeat lists more people than one event carries in chunks,
// and every one of them arrives.
func TestLargeHeartbeat(t *testing.T) {
	bus := inmem.New(0)
	defer bus.Close()
	a := mustNew(t, bus, presence.Options{Heartbeat: 50 * time.Millisecond})
	const n = 2500
	for i := range n {
		a.Set(userID(i), true)
	}
	b := mustNew(t, bus, presence.Options{Heartbeat: time.Hour})
	for i := range n {
		waitOnline(t, b, userID(i), true)
	}
}

func userID(i int) string {
	return "u" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
}

// Issue 17 (R-NTF-1): presence a node hears late is as old as when it was
// sent, not as when it arrived. A node whose subscription lags behind by
// more than 2×Heartbeat (or catches up after a reconnect) must not count
// people online for 2×Heartbeat from the moment their node's last word
// reached it: that node may have died meanwhile, and its people would miss
// their pushes for as long as the lag again. Late news counts them away
// (a push they may not need), never online.
func TestLateNewsIsOld(t *testing.T) {
	const hb = 100 * time.Millisecond
	bus := inmem.New(0)
	defer bus.Close()
	link := &cuttable{Bus: bus}
	a := mustNew(t, link, presence.Options{Heartbeat: hb})
	var heard atomic.Int64
	tap, err := bus.Subscribe(func(e tkesj.Event) {
		if e.Control == presence.Control && len(e.Users) > 0 {
			heard.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tap()
	b := mustNew(t, &slowLink{Bus: bus, by: 5 * hb}, presence.Options{Heartbeat: hb})
	a.Set("u1", true)
	// a's word that u1 is here is on the bus; then a dies without a goodbye.
	for heard.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	link.cut.Store(true)
	// b hears it 5×hb late, already older than the 2×hb it may be trusted.
	deadline := time.Now().Add(8 * hb)
	for time.Now().Before(deadline) {
		if b.Online("u1") {
			t.Fatalf("u1 counted online on b from news %v old (their node died at once); want away", 5*hb)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// slowLink delivers every event by after it was published, in order.
type slowLink struct {
	tkesj.Bus
	by time.Duration
}

type lateEvent struct {
	e  tkesj.Event
	at time.Time
}

func (l *slowLink) Subscribe(fn func(tkesj.Event)) (func(), error) {
	queue := make(chan lateEvent, 1024)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case le := <-queue:
				time.Sleep(time.Until(le.at.Add(l.by)))
				fn(le.e)
			case <-done:
				return
			}
		}
	}()
	unsub, err := l.Bus.Subscribe(func(e tkesj.Event) { queue <- lateEvent{e, time.Now()} })
	if err != nil {
		close(done)
		return nil, err
	}
	return func() { unsub(); close(done) }, nil
}
