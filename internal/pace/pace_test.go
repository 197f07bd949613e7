package pace

import (
	"context"
	"testing"
	"time"
)

// Background work with a Pacer rests after each stretch of Work (issue 17:
// the search indexer's passes, so requests on the same core wait behind at
// most one short stretch); work without one (a request) never rests; a
// cancelled context ends a rest.
func TestStepRestsAfterEachStretch(t *testing.T) {
	p := &Pacer{Work: 2 * time.Millisecond, Rest: 5 * time.Millisecond}
	ctx := With(context.Background(), p)
	start := time.Now()
	for time.Since(start) < 50*time.Millisecond {
		Step(ctx)
	}
	// 50 ms of looping holds at most 50/(2+5) ≈ 7 stretches; with no rest
	// it would hold none.
	if n := p.Rests(); n < 3 || n > 25 {
		t.Fatalf("rested %d times in 50 ms of work-and-rest with 2 ms stretches and 5 ms rests", n)
	}

	plain := context.Background()
	start = time.Now()
	for range 100_000 {
		Step(plain)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("100,000 steps without a pacer took %v: they rested", d)
	}

	long := &Pacer{Work: 0, Rest: time.Hour}
	cctx, cancel := context.WithCancel(With(context.Background(), long))
	time.AfterFunc(10*time.Millisecond, cancel)
	start = time.Now()
	Step(cctx)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("a cancelled context's rest lasted %v", d)
	}
	if With(context.Background(), nil) != context.Background() {
		t.Fatal("With(nil) changed the context")
	}
}
