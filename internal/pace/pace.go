// Package pace keeps background work from holding the processor in long
// stretches while people's requests wait (issue 17). The search indexer's
// pass was ~25 ms of CPU every 250 ms at 2,000 msg/s; on one core the
// operating system shares the core between its thread and the requests'
// (the runtime keeps two Ps there), so every request that came during a
// pass ran at half speed, and delivery p99 at 2,000/s was 43 ms where it
// was 19 ms with the indexer off. Work carrying a Pacer in its context
// rests now and then (Step), so no request waits behind more than one
// short stretch of it.
package pace

import (
	"context"
	"time"
)

// Pacer is one goroutine's rhythm: after Work of wall time without a rest,
// Step sleeps for Rest. Not safe for concurrent use: each pass has its own.
type Pacer struct {
	Work, Rest time.Duration
	since      time.Time
	rests      int
}

type key struct{}

// With returns ctx carrying p; a nil p returns ctx unchanged.
func With(ctx context.Context, p *Pacer) context.Context {
	if p == nil {
		return ctx
	}
	p.since = time.Now()
	return context.WithValue(ctx, key{}, p)
}

// Step rests if the work since the last rest has lasted Work. A context
// without a Pacer (a request, a search catching the index up while a
// person waits) never rests.
func Step(ctx context.Context) {
	p, _ := ctx.Value(key{}).(*Pacer)
	if p == nil || time.Since(p.since) < p.Work {
		return
	}
	t := time.NewTimer(p.Rest)
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	t.Stop()
	p.rests++
	p.since = time.Now()
}

// Rests reports how many times p rested (tests, metrics).
func (p *Pacer) Rests() int { return p.rests }
