package natsbus_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/bus/bustest"
	"github.com/tkesj/tkesj/internal/bus/natsbus"
)

// natsURL returns the URL of the NATS server (with JetStream) for tests. It
// skips the test when none is configured, except in CI, where the NATS leg
// must run.
func natsURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("TKESJ_TEST_NATS_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TKESJ_TEST_NATS_URL must be set in CI")
		}
		t.Skip("TKESJ_TEST_NATS_URL not set; skipping the NATS leg")
	}
	return u
}

// place is one test's stream and subject, random so that runs never collide.
type place struct{ stream, subject string }

var (
	placesMu sync.Mutex
	places   = map[testing.TB]place{}
)

// placeFor returns tb's stream and subject, the same for every node of one
// test, and deletes the stream when tb ends (after its nodes are closed:
// cleanups run last-in first-out).
func placeFor(tb testing.TB, url string) place {
	tb.Helper()
	placesMu.Lock()
	defer placesMu.Unlock()
	if p, ok := places[tb]; ok {
		return p
	}
	var b [6]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	p := place{stream: "T_" + id, subject: "tkesj.test." + id}
	places[tb] = p
	tb.Cleanup(func() {
		placesMu.Lock()
		delete(places, tb)
		placesMu.Unlock()
		deleteStream(tb, url, p.stream)
	})
	return p
}

func deleteStream(tb testing.TB, url, stream string) {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Errorf("connect to delete stream %s: %v", stream, err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Errorf("delete stream %s: %v", stream, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, stream); err != nil {
		tb.Errorf("delete stream %s: %v", stream, err)
	}
}

// mustOpen opens a new node on tb's stream and closes it at cleanup.
func mustOpen(tb testing.TB) *natsbus.Bus {
	tb.Helper()
	url := natsURL(tb)
	p := placeFor(tb, url)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bus, err := natsbus.Open(ctx, url, p.stream, p.subject)
	if err != nil {
		tb.Fatalf("Open(%s, %s) = %v", p.stream, p.subject, err)
	}
	tb.Cleanup(func() { bus.Close() })
	return bus
}

func TestConformance(t *testing.T) {
	natsURL(t)
	bustest.Run(t, func(t *testing.T) tkesj.Bus { return mustOpen(t) })
}

func TestOpen(t *testing.T) {
	url := natsURL(t)
	t.Run("an unreachable server is an unavailable error", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		bus, err := natsbus.Open(ctx, "nats://127.0.0.1:1", "T_never", "tkesj.test.never")
		if err == nil {
			bus.Close()
			t.Fatal("Open(an unreachable server) = nil error, want one")
		}
		if kind := tkesj.ErrorKindOf(err); kind != tkesj.EUnavailable {
			t.Errorf("Open(an unreachable server) = %v (kind %s), want kind %s", err, kind, tkesj.EUnavailable)
		}
	})
	t.Run("an existing stream is brought to the bus's limits", func(t *testing.T) {
		p := placeFor(t, url)
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: p.stream, Subjects: []string{p.subject}, MaxAge: time.Hour, Storage: jetstream.FileStorage}); err != nil {
			t.Fatalf("CreateStream = %v", err)
		}
		mustOpen(t)
		s, err := js.Stream(ctx, p.stream)
		if err != nil {
			t.Fatalf("Stream(%s) = %v", p.stream, err)
		}
		cfg := s.CachedInfo().Config
		if cfg.MaxAge != time.Minute || cfg.Retention != jetstream.LimitsPolicy || cfg.Discard != jetstream.DiscardOld || cfg.MaxBytes <= 0 {
			t.Errorf("after Open, stream MaxAge %v, Retention %v, Discard %v, MaxBytes %d; want 1m0s, Limits, DiscardOld, a bound",
				cfg.MaxAge, cfg.Retention, cfg.Discard, cfg.MaxBytes)
		}
	})
	t.Run("nodes opening one stream at once all succeed", func(t *testing.T) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { mustOpen(t) })
		}
		wg.Wait()
	})
}

func TestSubscribeSeesOnlyNewEvents(t *testing.T) {
	nodeA, nodeB := mustOpen(t), mustOpen(t)
	ctx := context.Background()
	if err := nodeA.Publish(ctx, tkesj.Event{Frame: []byte(`"old"`)}); err != nil {
		t.Fatalf("Publish = %v", err)
	}
	got := make(chan tkesj.Event, 10)
	unsub, err := nodeB.Subscribe(func(e tkesj.Event) { got <- e })
	if err != nil {
		t.Fatalf("Subscribe = %v", err)
	}
	defer unsub()
	if err := nodeA.Publish(ctx, tkesj.Event{Frame: []byte(`"new"`)}); err != nil {
		t.Fatalf("Publish = %v", err)
	}
	select {
	case e := <-got:
		if string(e.Frame) != `"new"` {
			t.Errorf("a new subscriber's first event = %s, want \"new\" (events from before Subscribe must not be replayed)", e.Frame)
		}
	case <-time.After(bustest.Wait):
		t.Fatalf("no event within %v", bustest.Wait)
	}
}

func TestStats(t *testing.T) {
	nodeA, nodeB := mustOpen(t), mustOpen(t)
	var wg sync.WaitGroup
	wg.Add(2 * 3)
	for _, n := range []*natsbus.Bus{nodeA, nodeB} {
		unsub, err := n.Subscribe(func(tkesj.Event) { wg.Done() })
		if err != nil {
			t.Fatalf("Subscribe = %v", err)
		}
		defer unsub()
	}
	for range 3 {
		if err := nodeA.Publish(context.Background(), tkesj.Event{Frame: []byte(`{}`)}); err != nil {
			t.Fatalf("Publish = %v", err)
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(bustest.Wait):
		t.Fatalf("3 events did not reach both nodes within %v", bustest.Wait)
	}
	for _, tc := range []struct {
		name string
		bus  *natsbus.Bus
		want natsbus.Stats
	}{
		{"the publishing node counts what it published and delivered", nodeA, natsbus.Stats{Published: 3, Delivered: 3}},
		{"the other node counts what it delivered", nodeB, natsbus.Stats{Delivered: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.bus.Stats(); got != tc.want {
				t.Errorf("Stats() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// BenchmarkPublishDeliver measures events per second from Publish to the
// handler of one subscriber, with 1 KiB frames. Each Publish waits for its
// ack, so one publisher measures the round trip and several measure what a
// busy node gets.
func BenchmarkPublishDeliver(b *testing.B) {
	for _, bc := range []struct {
		name       string
		publishers int
	}{{"one publisher", 1}, {"16 publishers", 16}} {
		b.Run(bc.name, func(b *testing.B) { benchmarkPublishDeliver(b, bc.publishers) })
	}
}

func benchmarkPublishDeliver(b *testing.B, publishers int) {
	bus := mustOpen(b)
	frame := make([]byte, 1024)
	var received atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	unsub, err := bus.Subscribe(func(tkesj.Event) {
		if received.Add(1) == target {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer unsub()
	e := tkesj.Event{Users: []string{"alice", "bob"}, Frame: frame}
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := p; i < b.N; i += publishers {
				if err := bus.Publish(context.Background(), e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatalf("delivered %d of %d events", received.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
