package inmem_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/bus/bustest"
	"github.com/tkesj/tkesj/internal/bus/inmem"
)

var (
	busesMu sync.Mutex
	buses   = map[*testing.T]*inmem.Bus{}
)

// open returns one Bus per test: every "node" of an in-process deployment
// is the same bus.
func open(t *testing.T) tkesj.Bus {
	busesMu.Lock()
	defer busesMu.Unlock()
	if b, ok := buses[t]; ok {
		return b
	}
	b := inmem.New(0)
	buses[t] = b
	t.Cleanup(func() {
		b.Close()
		busesMu.Lock()
		delete(buses, t)
		busesMu.Unlock()
	})
	return b
}

func TestConformance(t *testing.T) { bustest.Run(t, open) }

func TestMetrics(t *testing.T) {
	tests := []struct {
		name        string
		buffer      int
		publish     int
		wantDropped uint64
		wantDepth   int
	}{
		{"events within the queue wait and none drop", 8, 8, 0, 7},
		{"events past a full queue are dropped and counted", 8, 20, 11, 8},
		{"zero means the default queue of 4096", 0, 4100, 3, inmem.DefaultBuffer},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bus := inmem.New(tc.buffer)
			t.Cleanup(func() { bus.Close() })
			release := make(chan struct{})
			called := make(chan struct{})
			var once sync.Once
			unsub, err := bus.Subscribe(func(tkesj.Event) {
				once.Do(func() { close(called) })
				<-release
			})
			if err != nil {
				t.Fatalf("Subscribe = %v", err)
			}
			t.Cleanup(unsub)
			t.Cleanup(func() { close(release) })

			// The first event is taken by the handler, which then blocks;
			// the rest queue behind it.
			if err := bus.Publish(context.Background(), tkesj.Event{Frame: []byte("0")}); err != nil {
				t.Fatalf("Publish = %v", err)
			}
			select {
			case <-called:
			case <-time.After(5 * time.Second):
				t.Fatal("the handler was not called within 5s")
			}
			for i := 1; i < tc.publish; i++ {
				if err := bus.Publish(context.Background(), tkesj.Event{Frame: []byte("x")}); err != nil {
					t.Fatalf("Publish #%d = %v", i, err)
				}
			}
			if got := bus.Dropped(); got != tc.wantDropped {
				t.Errorf("Dropped() = %d, want %d", got, tc.wantDropped)
			}
			if got := bus.QueueDepth(); got != tc.wantDepth {
				t.Errorf("QueueDepth() = %d, want %d", got, tc.wantDepth)
			}
		})
	}
}

func TestPublishHonoursADoneContext(t *testing.T) {
	bus := inmem.New(0)
	t.Cleanup(func() { bus.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := bus.Publish(ctx, tkesj.Event{}); err == nil {
		t.Error("Publish with a cancelled context = nil, want an error")
	}
}

func BenchmarkPublishDeliver(b *testing.B) {
	bus := inmem.New(0)
	defer bus.Close()
	frame := make([]byte, 1024)
	var (
		mu       sync.Mutex
		received int
		target   int
		done     = make(chan struct{}, 1)
	)
	unsub, err := bus.Subscribe(func(tkesj.Event) {
		mu.Lock()
		received++
		if received == target {
			done <- struct{}{}
		}
		mu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	defer unsub()
	ctx := context.Background()
	e := tkesj.Event{Users: []string{"alice", "bob"}, Frame: frame}
	b.SetBytes(int64(len(frame)))
	b.ResetTimer()
	start := time.Now()
	// Publish in windows no larger than the queue, so that no event is
	// dropped and every one is measured end to end.
	const window = inmem.DefaultBuffer / 2
	for sent := 0; sent < b.N; {
		n := min(window, b.N-sent)
		mu.Lock()
		target = received + n
		mu.Unlock()
		for range n {
			if err := bus.Publish(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
		<-done
		sent += n
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	if d := bus.Dropped(); d != 0 {
		b.Fatalf("Dropped() = %d, want 0", d)
	}
}
