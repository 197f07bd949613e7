package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// background is B2-style one-to-one load (online pairs, open loop at a fixed
// rate) that runs while a scenario does something heavy, so that the
// scenario can report what its heavy work does to everyone else's
// send→deliver latency: B6 (a purge) and B5 (a Moments fan-out).
type background struct {
	t     *tracker
	conns []*wsConn
	stop  context.CancelFunc
	done  chan loopStats

	mu      sync.Mutex
	samples []bgSample
}

type bgSample struct {
	sched time.Time
	lat   time.Duration
}

// startBackground connects every user of pairs and starts sending rate
// messages per second, each pair's two people in turn.
func startBackground(ctx context.Context, srv *server, pairs [][2]user, convs []string, users []user, rate float64, inFlight int) (*background, error) {
	g := &background{t: newTracker(), done: make(chan loopStats, 1)}
	var onMsg atomic.Pointer[deliveryFunc]
	conns, err := dialAll(ctx, srv, users, 64, &onMsg)
	if err != nil {
		return nil, err
	}
	g.conns = conns
	// Deliveries are timed by the tracker; each is kept with its schedule.
	record := deliveryFunc(func(id int64, at time.Time) {
		g.t.mu.Lock()
		p := g.t.pending[id]
		var sched time.Time
		if p != nil {
			sched = p.sched
		}
		g.t.mu.Unlock()
		g.t.deliver(id, at)
		if p != nil {
			g.mu.Lock()
			g.samples = append(g.samples, bgSample{sched, at.Sub(sched)})
			g.mu.Unlock()
		}
	})
	onMsg.Store(&record)
	lctx, stop := context.WithCancel(ctx)
	g.stop = stop
	go func() {
		g.done <- openLoop(lctx, rate, 10*time.Minute, inFlight, func(i int, sched time.Time) bool {
			p := i % len(pairs)
			id := benchIDs.Add(1)
			g.t.expect(id, sched, 1)
			if !sendText(ctx, srv, pairs[p][(i/len(pairs))%2].Token, convs[p], id, sched) {
				g.t.forget(id)
				return false
			}
			return true
		})
	}()
	return g, nil
}

// between is the send→deliver latency of the messages scheduled in
// [from, to); a zero to means "until now".
func (g *background) between(from, to time.Time) []time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []time.Duration
	for _, s := range g.samples {
		if !s.sched.Before(from) && (to.IsZero() || s.sched.Before(to)) {
			out = append(out, s.lat)
		}
	}
	return out
}

// finish stops sending, waits for what is still on its way (up to 5 s) and
// closes the connections.
func (g *background) finish(ctx context.Context) loopStats {
	g.stop()
	ls := <-g.done
	g.t.drain(ctx, 5*time.Second)
	closeAll(g.conns)
	return ls
}
