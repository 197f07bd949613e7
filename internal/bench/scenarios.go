package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj/internal/service"
)

// size is how big each scenario is.
type size struct {
	B1Conns   int
	B1Idle    time.Duration
	B2Pairs   int
	B2Rates   []float64 // the ramp; it stops at the first rate not sustained
	B2Step    time.Duration
	B2Measure time.Duration
	B3Members int
	B3Rates   []float64 // group messages per second; the first is the latency target's 20/s
	B3Step    time.Duration
	B4Msgs    int
	B4Convs   int
	B5Small   int // friends of the first viewer (a subset of the second's)
	B5Large   int // friends of the second viewer; each friend posts B5Posts times
	B5Posts   int
	B5Reads   int // timeline first pages fetched per viewer
	B5FanOuts int // posts by the second viewer timed until in all B5Large timelines
	B6Msgs    int
	B6Convs   int
	B6Pairs   int           // online pairs carrying B2-style load during the purge
	B6Rate    float64       // their messages per second
	B8Setups  int           // one-to-one call setups timed
	B8Calls   []int         // 9-person audio calls at once, one step each
	B8Measure time.Duration // the forwarding window of each step
	InFlight  int           // open-loop cap on outstanding sends
	Settle    time.Duration // pauses: after a start, a connection burst, between steps
}

var sizes = map[string]size{
	"tiny": {
		B1Conns: 40, B1Idle: time.Second,
		B2Pairs: 10, B2Rates: []float64{50, 100}, B2Step: time.Second, B2Measure: time.Second,
		B3Members: 30, B3Rates: []float64{20}, B3Step: time.Second,
		B4Msgs: 200, B4Convs: 4,
		B5Small: 10, B5Large: 40, B5Posts: 2, B5Reads: 20, B5FanOuts: 1,
		B6Msgs: 1000, B6Convs: 4, B6Pairs: 5, B6Rate: 50,
		B8Setups: 3, B8Calls: []int{1}, B8Measure: time.Second,
		InFlight: 256, Settle: 200 * time.Millisecond,
	},
	"small": {
		B1Conns: 1000, B1Idle: 3 * time.Second,
		B2Pairs: 50, B2Rates: []float64{250, 500, 1000, 2000, 4000, 8000}, B2Step: 2 * time.Second, B2Measure: 3 * time.Second,
		B3Members: 500, B3Rates: []float64{20, 100}, B3Step: 3 * time.Second,
		B4Msgs: 1000, B4Convs: 10,
		B5Small: 50, B5Large: 500, B5Posts: 2, B5Reads: 100, B5FanOuts: 3,
		B6Msgs: 10_000, B6Convs: 10, B6Pairs: 20, B6Rate: 200,
		B8Setups: 20, B8Calls: []int{1, 2}, B8Measure: 3 * time.Second,
		InFlight: 1024, Settle: time.Second,
	},
	"full": {
		// Issue 17: 19,000 idle sockets (the file limit here is 20,000 a process).
		B1Conns: 19_000, B1Idle: 35 * time.Second,
		B2Pairs: 1000, B2Rates: []float64{500, 1000, 2000, 4000, 8000, 16000}, B2Step: 5 * time.Second, B2Measure: 10 * time.Second,
		B3Members: 500, B3Rates: []float64{20, 100, 200}, B3Step: 10 * time.Second,
		B4Msgs: 10_000, B4Convs: 50,
		B5Small: 200, B5Large: 5000, B5Posts: 4, B5Reads: 500, B5FanOuts: 5,
		B6Msgs: 100_000, B6Convs: 20, B6Pairs: 100, B6Rate: 500,
		B8Setups: 100, B8Calls: []int{1, 2, 4, 8}, B8Measure: 10 * time.Second,
		InFlight: 2048, Settle: time.Second,
	},
}

func fail(r *Result, err error) *Result {
	r.Error = err.Error()
	return r
}

// B1: N authenticated, idle WebSockets: server RSS per connection and the
// server's CPU while they idle.
func (b *bench) b1(ctx context.Context) *Result {
	r := &Result{Name: "B1", Title: "idle WebSockets"}
	n := b.sz.B1Conns
	in, err := b.newInstance(ctx, "b1")
	if err != nil {
		return fail(r, err)
	}
	defer in.close()
	t0 := time.Now()
	users, err := in.seedUsers(ctx, n, "idle", 0)
	if err != nil {
		return fail(r, err)
	}
	seedS := time.Since(t0).Seconds()
	srv, err := in.start(ctx)
	if err != nil {
		return fail(r, err)
	}
	time.Sleep(b.sz.Settle)
	before := srv.stat()
	t1 := time.Now()
	conns, err := dialAll(ctx, srv, users, 64, nil)
	if err != nil {
		return fail(r, err)
	}
	defer closeAll(conns)
	connectS := time.Since(t1).Seconds()
	time.Sleep(2 * b.sz.Settle) // let the server settle after the connection burst
	mid := srv.stat()
	time.Sleep(b.sz.B1Idle)
	after := srv.stat()
	perConn := float64(after.RSSKiB-before.RSSKiB) / float64(n)
	idleCPU := (after.CPU - mid.CPU) / b.sz.B1Idle.Seconds()
	r.metric("connections", float64(n), "")
	r.metric("seeding (accounts straight into the store)", seedS, "s")
	r.metric("connect all (64 dials at once)", connectS, "s")
	r.metric("connections per second", float64(n)/connectS, "/s")
	r.metric("server RSS before", float64(before.RSSKiB)/1024, "MiB")
	r.metric("server RSS with all connected", float64(after.RSSKiB)/1024, "MiB")
	r.metric("server RSS per connection", perConn, "KiB")
	r.metric("idle server CPU", idleCPU*100, "% of a core")
	r.metric("idle window", b.sz.B1Idle.Seconds(), "s")
	r.metric("server CPU to accept all connections", mid.CPU-before.CPU, "s")
	if b.sz.B1Idle < 30*time.Second {
		r.note("the idle window is shorter than the 30 s ping interval, so heartbeats are not in the idle CPU figure; --size full idles 35 s")
	}
	return r
}

// sender sends one bench text message (sendText's) from a person to a
// conversation and reports whether the server stored it: over HTTP (B2) or
// over the person's WebSocket (B2ws).
type sender func(ctx context.Context, from user, conv string, id int64, sched time.Time) bool

// sendVia makes a ramp's sender once the server runs and every person's
// socket is open (conns[i] is users[i]'s).
type sendVia func(srv *server, users []user, conns []*wsConn) sender

// overHTTP sends with POST /api/v1/conversations/{id}/messages.
func overHTTP(srv *server, _ []user, _ []*wsConn) sender {
	return func(ctx context.Context, from user, conv string, id int64, sched time.Time) bool {
		return sendText(ctx, srv, from.Token, conv, id, sched)
	}
}

// requestSeconds is the server's histogram of request durations, and
// sendRoutes the label of a send over HTTP and over a WebSocket frame: the
// time from the handler's start to its answer (ServerP99).
const requestSeconds = "tkesj_http_request_duration_seconds"

var sendRoutes = []string{`route="POST /api/v1/conversations/{id}/messages",`, `route="WS POST /api/v1/conversations/{id}/messages",`}

// directStep runs one open-loop level of one-to-one messages over pairs.
func (b *bench) directStep(ctx context.Context, srv *server, pairs [][2]user, convs []string, rate float64, dur time.Duration,
	onMsg *atomic.Pointer[deliveryFunc], send sender) (Step, *tracker, []time.Duration) {
	t := newTracker()
	fn := deliveryFunc(t.deliver)
	onMsg.Store(&fn)
	var mu sync.Mutex
	acks := make([]time.Duration, 0, int(rate*dur.Seconds()))
	c0, me0, d0 := srv.stat(), selfCPU(), srv.dbCPU(ctx)
	m0 := srv.scrape()
	ls := openLoop(ctx, rate, dur, b.sz.InFlight, func(i int, sched time.Time) bool {
		p := i % len(pairs)
		from := pairs[p][(i/len(pairs))%2]
		id := benchIDs.Add(1)
		t.expect(id, sched, 1)
		if !send(ctx, from, convs[p], id, sched) {
			t.forget(id)
			return false
		}
		lat := time.Since(sched)
		mu.Lock()
		acks = append(acks, lat)
		mu.Unlock()
		return true
	})
	t.drain(ctx, 5*time.Second)
	c1 := srv.stat()
	st := stepOf(rate, ls, t, c1.CPU-c0.CPU, 1)
	st.ClientCPU = selfCPU() - me0
	st.PerCPUSecond = 0
	if st.ServerCPU > 0 {
		st.PerCPUSecond = float64(ls.OK) / st.ServerCPU
	}
	st.withDBCPU(d0, srv.dbCPU(ctx), float64(ls.OK))
	// Statements in the window (which includes the drain) over the
	// messages stored in it: deliveries and receipts are in, as they are
	// part of what a message costs.
	m1 := srv.scrape()
	if q0, q1 := m0.counter("tkesj_db_statements_total"), m1.counter("tkesj_db_statements_total"); q0 >= 0 && q1 >= q0 && ls.OK > 0 {
		st.StatementsPerMessage = (q1 - q0) / float64(ls.OK)
	}
	w0, b0 := m0.counter("tkesj_writer_writes_total"), m0.counter("tkesj_writer_batches_total")
	if w1, b1 := m1.counter("tkesj_writer_writes_total"), m1.counter("tkesj_writer_batches_total"); w0 >= 0 && b0 >= 0 && b1 > b0 {
		st.WritesPerCommit = (w1 - w0) / (b1 - b0)
	}
	st.CommitP99 = p99ms(m0.buckets("tkesj_writer_commit_seconds"), m1.buckets("tkesj_writer_commit_seconds"))
	st.ServerP99 = p99ms(m0.buckets(requestSeconds, sendRoutes...), m1.buckets(requestSeconds, sendRoutes...))
	return st, t, acks
}

// withDBCPU records the PostgreSQL backends' CPU between d0 and d1
// (server.dbCPU; -1: SQLite or unknown) and n items over the server's and
// the database's CPU together.
func (st *Step) withDBCPU(d0, d1, n float64) {
	if d0 < 0 || d1 < 0 {
		return
	}
	st.DBCPU = max(0, d1-d0)
	if total := st.ServerCPU + st.DBCPU; total > 0 {
		st.PerServerDBCPUSecond = n / total
	}
}

// stepOf fills a Step from a loop and its tracker; want is deliveries per send.
func stepOf(rate float64, ls loopStats, t *tracker, cpu float64, want int) Step {
	t.mu.Lock()
	defer t.mu.Unlock()
	lat := summarize("", t.perDeliv)
	st := Step{Rate: rate, Sent: ls.OK, Failed: ls.Failed, Overflow: ls.Overflow, Deliveries: t.deliveries, P50: lat.P50, P99: lat.P99, ServerCPU: cpu}
	// Sends stored per second of the scheduled window: an overloaded server
	// shows up as overflow, failures and latency, not as a lower rate here.
	if ls.Window > 0 {
		st.Achieved = float64(ls.OK) / ls.Window.Seconds()
	}
	if ls.OK > 0 {
		st.DeliveredPct = 100 * float64(t.deliveries) / float64(ls.OK*want)
	}
	if cpu > 0 {
		st.PerCPUSecond = float64(t.deliveries) / cpu
	}
	st.Sustained = ls.Failed == 0 && ls.Overflow == 0 && st.DeliveredPct >= 99.9 && st.P99 <= 1000
	return st
}

// onlinePairs seeds n pairs of friends with a direct chat each, for a server
// to be started next.
func (in *instance) onlinePairs(ctx context.Context, n int, prefix string, phoneBase int) ([][2]user, []string, []user, error) {
	users, err := in.seedUsers(ctx, 2*n, prefix, phoneBase)
	if err != nil {
		return nil, nil, nil, err
	}
	pairs := make([][2]user, n)
	for i := range pairs {
		pairs[i] = [2]user{users[2*i], users[2*i+1]}
	}
	convs, err := in.directs(ctx, pairs)
	return pairs, convs, users, err
}

// B2: N online pairs; the rate doubles until it is not sustained, then the
// latency is measured at half the highest sustained rate.
func (b *bench) b2(ctx context.Context) *Result {
	return b.directRamp(ctx, &Result{Name: "B2", Title: "one-to-one messages, open-loop ramp"}, "b2", overHTTP, "201")
}

// directRamp is B2's ramp with messages sent via via: ack names the answer
// that says a message is stored (201, or B2ws's sent frame).
func (b *bench) directRamp(ctx context.Context, r *Result, name string, via sendVia, ack string) *Result {
	in, err := b.newInstance(ctx, name)
	if err != nil {
		return fail(r, err)
	}
	defer in.close()
	pairs, convs, users, err := in.onlinePairs(ctx, b.sz.B2Pairs, "pair", 0)
	if err != nil {
		return fail(r, err)
	}
	srv, err := in.start(ctx)
	if err != nil {
		return fail(r, err)
	}
	var onMsg atomic.Pointer[deliveryFunc]
	conns, err := dialAll(ctx, srv, users, 64, &onMsg)
	if err != nil {
		return fail(r, err)
	}
	defer closeAll(conns)
	send := via(srv, users, conns)
	var best Step
	for _, rate := range b.sz.B2Rates {
		st, _, _ := b.directStep(ctx, srv, pairs, convs, rate, b.sz.B2Step, &onMsg, send)
		r.Steps = append(r.Steps, st)
		if ctx.Err() != nil {
			return fail(r, ctx.Err())
		}
		if !st.Sustained {
			break
		}
		best = st
		time.Sleep(b.sz.Settle / 2)
	}
	// One more step between the highest sustained rate and the first that
	// was not, so the answer is within 25 %, not 50 %.
	if last := r.Steps[len(r.Steps)-1]; !last.Sustained && best.Rate > 0 && ctx.Err() == nil {
		time.Sleep(b.sz.Settle)
		st, _, _ := b.directStep(ctx, srv, pairs, convs, (best.Rate+last.Rate)/2, b.sz.B2Step, &onMsg, send)
		r.Steps = append(r.Steps, st)
		if st.Sustained {
			best = st
		}
	}
	half := best.Rate / 2
	if best.Rate == 0 {
		half = b.sz.B2Rates[0] / 2
		r.note("no rate of the ramp was sustained; latency measured at half the lowest")
	}
	// The ramp's last steps overloaded the server; what it queued then (the
	// search indexer's backlog, checkpoints) is done before the latency is
	// measured, so that the step measures half the rate and not the ramp.
	waited := srv.quiesce(ctx, b.sz.Settle, 30*time.Second)
	st, t, acks := b.directStep(ctx, srv, pairs, convs, half, b.sz.B2Measure, &onMsg, send)
	r.Steps = append(r.Steps, st)
	dl := summarize(fmt.Sprintf("send→deliver at %s/s", num(half)), t.perDeliv)
	r.Latencies = append(r.Latencies, dl, summarize(fmt.Sprintf("send→%s at %s/s", ack, num(half)), acks))
	r.metric("online pairs", float64(len(pairs)), "")
	r.metric("highest sustained target rate", best.Rate, "msg/s")
	r.metric("durable messages per second ("+ack+"s) at it", best.Achieved, "msg/s")
	r.metric("messages per server CPU-second at it", best.PerCPUSecond, "msg/cpu-s")
	if srv.db != nil {
		r.metric("messages per (server+DB) CPU-second at it", best.PerServerDBCPUSecond, "msg/cpu-s")
		r.metric("PostgreSQL backends' CPU at it", best.DBCPU, "s")
	}
	r.metric("SQL statements per message at it", best.StatementsPerMessage, "")
	r.metric("SQL statements per message at half that rate", st.StatementsPerMessage, "")
	r.metric("send→deliver p50 at half that rate", dl.P50, "ms")
	r.metric("send→deliver p99 at half that rate", dl.P99, "ms")
	stopped := false
	for _, st := range r.Steps[:len(r.Steps)-1] {
		if !st.Sustained {
			stopped = true
			r.note("not sustained at %s/s: failed=%d overflow=%d delivered=%.1f%% p99=%s ms achieved=%s/s",
				num(st.Rate), st.Failed, st.Overflow, st.DeliveredPct, num(st.P99), num(st.Achieved))
		}
	}
	if !stopped {
		r.note("every rate of the ramp was sustained; the highest sustained rate is a lower bound")
	}
	r.note("the last row is the latency measurement at half the highest sustained rate, begun %.1f s after the ramp, once the server used under %d%% of a core", waited.Seconds(), quietPercent)
	r.note("sustained = no failed or dropped (overflow) sends, >= 99.9%% delivered within 5 s, delivery p99 <= 1 s; achieved = sends stored (%s) per second of the scheduled window; per-user sends stay within the 600/min limit (10/s refill) by spreading load over every pair", ack)
	return r
}

// B3: one group of M members, all online; each group message goes to every
// other member's socket.
func (b *bench) b3(ctx context.Context) *Result {
	r := &Result{Name: "B3", Title: "group of all-online members"}
	in, err := b.newInstance(ctx, "b3")
	if err != nil {
		return fail(r, err)
	}
	defer in.close()
	m := b.sz.B3Members
	users, err := in.seedUsers(ctx, m, "member", 0)
	if err != nil {
		return fail(r, err)
	}
	var friends [][2]string
	var others []string
	for _, u := range users[1:] {
		friends = append(friends, [2]string{users[0].ID, u.ID})
		others = append(others, u.ID)
	}
	if err := in.svc().SeedFriends(ctx, friends); err != nil {
		return fail(r, err)
	}
	g, err := in.svc().CreateGroup(ctx, service.Auth{UserID: users[0].ID}, "Bench group", others)
	if err != nil {
		return fail(r, fmt.Errorf("create group: %w", err))
	}
	srv, err := in.start(ctx)
	if err != nil {
		return fail(r, err)
	}
	var onMsg atomic.Pointer[deliveryFunc]
	conns, err := dialAll(ctx, srv, users, 64, &onMsg)
	if err != nil {
		return fail(r, err)
	}
	defer closeAll(conns)
	sent := 0
	var bestPerCPU, bestPerDBCPU float64
	for k, rate := range b.sz.B3Rates {
		t := newTracker()
		fn := deliveryFunc(t.deliver)
		onMsg.Store(&fn)
		c0, me0, d0 := srv.stat(), selfCPU(), srv.dbCPU(ctx)
		ls := openLoop(ctx, rate, b.sz.B3Step, b.sz.InFlight, func(i int, sched time.Time) bool {
			from := users[(i*7+k)%m]
			id := benchIDs.Add(1)
			t.expect(id, sched, m-1)
			if !sendText(ctx, srv, from.Token, g.ID, id, sched) {
				t.forget(id)
				return false
			}
			return true
		})
		t.drain(ctx, 10*time.Second)
		c1 := srv.stat()
		st := stepOf(rate, ls, t, c1.CPU-c0.CPU, m-1)
		st.ClientCPU = selfCPU() - me0
		// Over server and database CPU: group messages stored (issue 17's
		// "messages per CPU-second, database CPU included").
		st.withDBCPU(d0, srv.dbCPU(ctx), float64(ls.OK))
		bestPerDBCPU = max(bestPerDBCPU, st.PerServerDBCPUSecond)
		r.Steps = append(r.Steps, st)
		sent += ls.OK
		t.mu.Lock()
		last := summarize(fmt.Sprintf("last member has it at %s msg/s", num(rate)), t.perMessage)
		each := summarize(fmt.Sprintf("each delivery at %s msg/s", num(rate)), t.perDeliv)
		incomplete := ls.OK - len(t.perMessage)
		t.mu.Unlock()
		r.Latencies = append(r.Latencies, last, each)
		if incomplete > 0 {
			r.note("at %s msg/s, %d of %d messages did not reach every member within 10 s (the hub drops a socket that falls 256 frames behind)", num(rate), incomplete, ls.OK)
		}
		if k == 0 {
			r.metric(fmt.Sprintf("last-member p50 at %s group msg/s", num(rate)), last.P50, "ms")
			r.metric(fmt.Sprintf("last-member p99 at %s group msg/s", num(rate)), last.P99, "ms")
		}
		bestPerCPU = max(bestPerCPU, st.PerCPUSecond)
		if ctx.Err() != nil {
			return fail(r, ctx.Err())
		}
		time.Sleep(b.sz.Settle / 2)
	}
	rows, err := in.countRows(ctx, "SELECT COUNT(*) FROM messages WHERE conv_id = ?", g.ID)
	if err != nil {
		return fail(r, err)
	}
	r.metric("members (all online)", float64(m), "")
	r.metric("deliveries per server CPU-second (best step)", bestPerCPU, "/cpu-s")
	if srv.db != nil {
		r.metric("group msgs per (server+DB) CPU-second (best)", bestPerDBCPU, "msg/cpu-s")
	}
	r.metric("group messages stored (201)", float64(sent), "")
	r.metric("message rows written", float64(rows), "")
	if sent > 0 {
		r.metric("stored writes per group message", float64(rows)/float64(sent), "")
	}
	return r
}

// B4: messages arrive in many conversations while a person is offline; on
// reconnect the ready frame lists them and the client pulls each by after_seq.
func (b *bench) b4(ctx context.Context) *Result {
	r := &Result{Name: "B4", Title: "offline sync"}
	in, err := b.newInstance(ctx, "b4")
	if err != nil {
		return fail(r, err)
	}
	defer in.close()
	k, total := b.sz.B4Convs, b.sz.B4Msgs
	users, err := in.seedUsers(ctx, k+1, "sync", 0)
	if err != nil {
		return fail(r, err)
	}
	p := users[0]
	pairs := make([][2]user, k)
	for i := range pairs {
		pairs[i] = [2]user{users[i+1], p}
	}
	convs, err := in.directs(ctx, pairs)
	if err != nil {
		return fail(r, err)
	}
	srv, err := in.start(ctx)
	if err != nil {
		return fail(r, err)
	}
	// The messages arrive through the API while the person has no socket.
	t0 := time.Now()
	var failed atomic.Int64
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := 0; i < total; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c := i % k
			if !sendText(ctx, srv, pairs[c][0].Token, convs[c], benchIDs.Add(1), time.Now()) {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	sendS := time.Since(t0).Seconds()
	if n := failed.Load(); n > 0 {
		return fail(r, fmt.Errorf("%d of %d sends failed", n, total))
	}
	// Reconnect, read ready, pull every conversation (4 at once, 100 a page).
	start := time.Now()
	w, err := dialWS(ctx, srv, p, nil)
	if err != nil {
		return fail(r, err)
	}
	defer w.c.CloseNow()
	readyAt := time.Now()
	var ready struct {
		Conversations []struct {
			ID          string `json:"id"`
			LastSeq     int64  `json:"last_seq"`
			ReceivedSeq int64  `json:"received_seq"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal(w.ready, &ready); err != nil {
		return fail(r, fmt.Errorf("ready frame: %w", err))
	}
	var pulled, requests atomic.Int64
	errs := make(chan error, len(ready.Conversations))
	psem := make(chan struct{}, 4)
	for _, c := range ready.Conversations {
		psem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-psem; wg.Done() }()
			after := c.ReceivedSeq
			for after < c.LastSeq && ctx.Err() == nil {
				var page struct {
					Messages []struct {
						Seq int64 `json:"seq"`
					} `json:"messages"`
				}
				requests.Add(1)
				if err := callJSON(ctx, srv, p.Token, "GET", fmt.Sprintf("/api/v1/conversations/%s/messages?after_seq=%d&limit=100", c.ID, after), nil, 200, &page); err != nil {
					errs <- err
					return
				}
				if len(page.Messages) == 0 {
					break
				}
				pulled.Add(int64(len(page.Messages)))
				after = page.Messages[len(page.Messages)-1].Seq
			}
		}()
	}
	wg.Wait()
	done := time.Now()
	close(errs)
	if err := <-errs; err != nil {
		return fail(r, err)
	}
	if int(pulled.Load()) != total {
		r.Error = fmt.Sprintf("pulled %d messages, want %d", pulled.Load(), total)
	}
	r.metric("messages while offline", float64(total), "")
	r.metric("conversations", float64(k), "")
	r.metric("conversations listed in ready", float64(len(ready.Conversations)), "")
	r.metric("sending them (32 at once, closed loop)", sendS, "s")
	r.metric("reconnect → ready frame", readyAt.Sub(start).Seconds()*1000, "ms")
	r.metric("ready frame → last message pulled", done.Sub(readyAt).Seconds()*1000, "ms")
	r.metric("reconnect → last message pulled", done.Sub(start).Seconds()*1000, "ms")
	r.metric("page requests (limit 100, 4 conversations at once)", float64(requests.Load()), "")
	r.metric("messages pulled per second", float64(pulled.Load())/done.Sub(readyAt).Seconds(), "msg/s")
	return r
}

// b5 is the Moments timeline: the first page (20 posts) for two people, one
// with B5Small friends and one with B5Large (the first one's friends among
// them), whose friends have each posted B5Posts times, fetched B5Reads times
// each, the two in turn, on a cold server; then the fan-out of B5FanOuts
// posts by the second person, each timed from its 201 until a reference is
// in the timeline of every one of their friends (read from the store).
func (b *bench) b5(ctx context.Context) *Result {
	r := &Result{Name: "B5", Title: "Moments timeline"}
	in, err := b.newInstance(ctx, "b5")
	if err != nil {
		return fail(r, err)
	}
	defer in.close()
	small, large := b.sz.B5Small, b.sz.B5Large
	users, err := in.seedUsers(ctx, large+2, "tl", 0)
	if err != nil {
		return fail(r, err)
	}
	big, little, friends := users[0], users[1], users[2:]
	pairs := make([][2]string, 0, large+small)
	for i, f := range friends {
		pairs = append(pairs, [2]string{big.ID, f.ID})
		if i < small {
			pairs = append(pairs, [2]string{little.ID, f.ID})
		}
	}
	if err := in.svc().SeedFriends(ctx, pairs); err != nil {
		return fail(r, err)
	}
	// The same background one-to-one load as B6's, during the fan-outs.
	lpairs, lconvs, lusers, err := in.onlinePairs(ctx, b.sz.B6Pairs, "load", 200_000)
	if err != nil {
		return fail(r, err)
	}
	seedStart := time.Now()
	for i := 0; i < b.sz.B5Posts; i++ {
		for _, f := range friends {
			if _, err := in.svc().CreateMoment(ctx, service.Auth{UserID: f.ID}, service.MomentInput{Text: fmt.Sprint("post ", i), Visibility: "friends"}); err != nil {
				return fail(r, fmt.Errorf("seed posts: %w", err))
			}
		}
	}
	seedS := time.Since(seedStart).Seconds()
	// The seeded posts reach the timelines before anything is measured.
	if w, ok := any(in.svc()).(interface{ WaitFanOut(context.Context) error }); ok {
		if err := w.WaitFanOut(ctx); err != nil {
			return fail(r, fmt.Errorf("seed fan-out: %w", err))
		}
	}
	fanS := time.Since(seedStart).Seconds() - seedS
	srv, err := in.start(ctx)
	if err != nil {
		return fail(r, err)
	}
	r.metric("friends of the first viewer", float64(small), "")
	r.metric("friends of the second viewer", float64(large), "")
	r.metric("posts per friend", float64(b.sz.B5Posts), "")
	r.metric("seeding the posts", seedS, "s")
	r.metric("then until every seeded post was in its timelines", fanS, "s")
	// The two people read in turn, so both see the same server and machine.
	viewers := []struct {
		who     user
		n       int
		samples []time.Duration
	}{{who: little, n: small}, {who: big, n: large}}
	for i := 0; i < b.sz.B5Reads && ctx.Err() == nil; i++ {
		for k := range viewers {
			v := &viewers[k]
			var page struct {
				Moments []json.RawMessage `json:"moments"`
			}
			start := time.Now()
			if err := callJSON(ctx, srv, v.who.Token, "GET", "/api/v1/moments/timeline?limit=20", nil, 200, &page); err != nil {
				return fail(r, err)
			}
			v.samples = append(v.samples, time.Since(start))
			if want := min(20, v.n*b.sz.B5Posts); len(page.Moments) != want {
				return fail(r, fmt.Errorf("timeline page at %d friends has %d posts, want %d", v.n, len(page.Moments), want))
			}
		}
	}
	var p99s []float64
	for _, v := range viewers {
		lat := summarize(fmt.Sprintf("timeline at %d friends", v.n), v.samples)
		r.metric(fmt.Sprintf("timeline p50 at %d friends", v.n), lat.P50, "ms")
		r.metric(fmt.Sprintf("timeline p99 at %d friends", v.n), lat.P99, "ms")
		r.Latencies = append(r.Latencies, lat)
		p99s = append(p99s, lat.P99)
	}
	if p99s[0] > 0 {
		r.metric(fmt.Sprintf("p99 at %d friends / p99 at %d", large, small), p99s[1]/p99s[0], "×")
	}
	// Fan-outs run under B2-style load: a baseline first, then the posts,
	// so the report shows what a big fan-out does to everyone's messages.
	load, err := startBackground(ctx, srv, lpairs, lconvs, lusers, b.sz.B6Rate, b.sz.InFlight)
	if err != nil {
		return fail(r, err)
	}
	loadStart := time.Now()
	time.Sleep(2 * b.sz.Settle)
	poll, err := in.counter()
	if err != nil {
		return fail(r, err)
	}
	defer poll.close()
	fan0 := time.Now()
	var fan []time.Duration
posts:
	for i := 0; i < b.sz.B5FanOuts && ctx.Err() == nil; i++ {
		var m struct {
			ID string `json:"id"`
		}
		if err := callJSON(ctx, srv, big.Token, "POST", "/api/v1/moments", map[string]any{"text": fmt.Sprint("fan-out ", i)}, 201, &m); err != nil {
			return fail(r, err)
		}
		acked := time.Now()
		for {
			n, err := poll.count(ctx, `SELECT COUNT(*) FROM moment_timeline WHERE moment_id = ?`, m.ID)
			if err != nil {
				break posts // a store without timelines (before issue 19): nothing to time
			}
			if n >= int64(large)+1 { // every friend, and the author
				fan = append(fan, time.Since(acked))
				break
			}
			if time.Since(acked) > time.Minute {
				return fail(r, fmt.Errorf("fan-out to %d friends not done after a minute (%d references)", large, n))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	fanEnd := time.Now()
	ls := load.finish(ctx)
	if len(fan) > 0 {
		l := summarize("fan-out", fan)
		r.metric(fmt.Sprintf("fan-out of one post to %d friends (median of %d)", large, len(fan)), l.P50, "ms")
		r.metric(fmt.Sprintf("fan-out of one post to %d friends (slowest)", large), l.Max, "ms")
	}
	base, during := load.between(loadStart, fan0), load.between(fan0, fanEnd)
	bl, dl := summarize("B2 send→deliver before the fan-outs", base), summarize("B2 send→deliver during the fan-outs", during)
	r.Latencies = append(r.Latencies, bl, dl)
	r.metric("background one-to-one load", b.sz.B6Rate, "msg/s")
	r.metric("background sends failed or dropped", float64(ls.Failed+ls.Overflow), "")
	r.metric("B2 p99 before the fan-outs", bl.P99, "ms")
	r.metric("B2 p99 during the fan-outs", dl.P99, "ms")
	if bl.P99 > 0 {
		r.metric("B2 p99 during / before the fan-outs", dl.P99/bl.P99, "×")
	}
	if len(during) < 20 {
		r.note("the fan-outs took too little time for a meaningful p99 under them (%d samples)", len(during))
	}
	return r
}

// b67 runs B7 (export) and then B6 (destroy) on one person with many
// messages, while online pairs keep B2-style load going during the purge.
func (b *bench) b67(ctx context.Context, doB6, doB7 bool) []*Result {
	r6 := &Result{Name: "B6", Title: "destroy an account with many messages"}
	r7 := &Result{Name: "B7", Title: "export an account with many messages"}
	var out []*Result
	if doB7 {
		out = append(out, r7)
	}
	if doB6 {
		out = append(out, r6)
	}
	failAll := func(err error) []*Result {
		for _, r := range out {
			if r.Error == "" {
				r.Error = err.Error()
			}
		}
		return out
	}
	in, err := b.newInstance(ctx, "b67")
	if err != nil {
		return failAll(err)
	}
	defer in.close()
	k, n := b.sz.B6Convs, b.sz.B6Msgs
	people, err := in.seedUsers(ctx, k+1, "heavy", 0)
	if err != nil {
		return failAll(err)
	}
	d := people[0]
	dp := make([][2]user, k)
	for i := range dp {
		dp[i] = [2]user{d, people[i+1]}
	}
	dconvs, err := in.directs(ctx, dp)
	if err != nil {
		return failAll(err)
	}
	t0 := time.Now()
	for i, c := range dconvs {
		cnt := n / k
		if i < n%k {
			cnt++
		}
		if err := in.svc().SeedMessages(ctx, d.ID, c, cnt, "a message from someone who will destroy their account"); err != nil {
			return failAll(fmt.Errorf("seed messages: %w", err))
		}
	}
	seedS := time.Since(t0).Seconds()
	pairs, convs, pusers, err := in.onlinePairs(ctx, b.sz.B6Pairs, "load", 100_000)
	if err != nil {
		return failAll(err)
	}
	srv, err := in.start(ctx)
	if err != nil {
		return failAll(err)
	}
	const bodies = "SELECT COUNT(*) FROM messages WHERE sender_id = ? AND body IS NOT NULL"
	if have, err := in.countRows(ctx, bodies, d.ID); err != nil || have != int64(n) {
		return failAll(fmt.Errorf("seeded %d message bodies, want %d (%v)", have, n, err))
	}
	r6.metric("messages of the person", float64(n), "")
	r6.metric("seeding them", seedS, "s")
	r7.metric("messages of the person", float64(n), "")

	if doB7 {
		b.export(ctx, srv, d, r7)
	}
	if !doB6 {
		return out
	}

	load, err := startBackground(ctx, srv, pairs, convs, pusers, b.sz.B6Rate, b.sz.InFlight)
	if err != nil {
		return failAll(err)
	}
	loadStart := time.Now()
	time.Sleep(2 * b.sz.Settle) // baseline under load before the destruction

	del0 := time.Now()
	if err := callJSON(ctx, srv, d.Token, "DELETE", "/api/v1/me", map[string]string{"password": in.password}, 204, nil); err != nil {
		load.finish(ctx)
		return failAll(err)
	}
	delRet := time.Now()
	var invisible time.Time
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var page struct {
			Messages []map[string]any `json:"messages"`
		}
		if err := callJSON(ctx, srv, dp[0][1].Token, "GET", "/api/v1/conversations/"+dconvs[0]+"/messages?after_seq=0&limit=100", nil, 200, &page); err != nil {
			r6.Error = err.Error()
			break
		}
		all := len(page.Messages) > 0
		for _, m := range page.Messages {
			if m["sender_deleted"] != true || m["text"] != nil {
				all = false
			}
		}
		if all {
			invisible = time.Now()
			break
		}
	}
	poll, err := in.counter()
	if err != nil {
		return failAll(err)
	}
	defer poll.close()
	var purged time.Time
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(20 * time.Millisecond) {
		left, err := poll.count(ctx, bodies, d.ID)
		if err != nil {
			r6.Error = err.Error()
			break
		}
		if left == 0 {
			purged = time.Now()
			break
		}
	}
	// The purge empties bodies first and then deletes the person's search
	// tokens (R-DEL-4), most of its work: it has finished when their entry
	// leaves the purge queue. B2 is timed under that second step too.
	var finished time.Time
	for deadline := time.Now().Add(10 * time.Minute); !purged.IsZero() && time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(20 * time.Millisecond) {
		left, err := poll.count(ctx, "SELECT COUNT(*) FROM purges WHERE user_id = ?", d.ID)
		if err != nil {
			r6.Error = err.Error()
			break
		}
		if left == 0 {
			finished = time.Now()
			break
		}
	}
	time.Sleep(b.sz.Settle)
	ls := load.finish(ctx)
	base := load.between(loadStart, del0)
	var during, unindexing []time.Duration
	if !purged.IsZero() {
		during = load.between(del0, purged.Add(time.Nanosecond))
	}
	if !finished.IsZero() {
		unindexing = load.between(purged, finished.Add(time.Nanosecond))
	}
	if invisible.IsZero() {
		r6.Error = "messages still readable 30 s after DELETE /api/v1/me"
	} else {
		r6.metric("DELETE /api/v1/me answered", delRet.Sub(del0).Seconds()*1000, "ms")
		r6.metric("until invisible (messages read sender_deleted)", invisible.Sub(del0).Seconds()*1000, "ms")
	}
	if purged.IsZero() {
		if r6.Error == "" {
			r6.Error = "message bodies still stored 10 minutes after the destruction"
		}
	} else {
		r6.metric("until purged (no body left in the store)", purged.Sub(del0).Seconds(), "s")
		r6.metric("bodies purged per second", float64(n)/purged.Sub(del0).Seconds(), "/s")
		if finished.IsZero() {
			if r6.Error == "" {
				r6.Error = "the purge was still queued 10 minutes after the bodies went"
			}
		} else {
			r6.metric("until un-indexed (purge finished)", finished.Sub(del0).Seconds(), "s")
		}
	}
	r6.metric("background one-to-one load", b.sz.B6Rate, "msg/s")
	r6.metric("background sends failed or dropped", float64(ls.Failed+ls.Overflow), "")
	bl, dl := summarize("B2 send→deliver before DELETE", base), summarize("B2 send→deliver while purging", during)
	ul := summarize("B2 send→deliver while un-indexing", unindexing)
	r6.Latencies = append(r6.Latencies, bl, dl, ul)
	r6.metric("B2 p99 before the destruction", bl.P99, "ms")
	r6.metric("B2 p99 while the purge runs", dl.P99, "ms")
	r6.metric("B2 p99 while un-indexing", ul.P99, "ms")
	if len(during) < 20 {
		r6.note("the purge took too little time for a meaningful p99 under it (%d samples)", len(during))
	}
	return out
}

// export runs B7: POST an export, poll until ready, download it.
func (b *bench) export(ctx context.Context, srv *server, d user, r *Result) {
	time.Sleep(b.sz.Settle / 2)
	base := srv.stat()
	stopRSS := srv.rssSampler()
	t0 := time.Now()
	var x struct {
		ID, Status  string
		DownloadURL string `json:"download_url"`
	}
	st, body, err := call(ctx, srv, d.Token, "POST", "/api/v1/me/exports", []byte(`{}`))
	if err != nil {
		stopRSS()
		r.Error = err.Error()
		return
	}
	if st == http.StatusNotFound || st == http.StatusMethodNotAllowed {
		stopRSS()
		r.Skipped = fmt.Sprintf("B7 skipped: POST /api/v1/me/exports answered %d (export endpoints not there)", st)
		return
	}
	if st != http.StatusAccepted || json.Unmarshal(body, &x) != nil {
		stopRSS()
		r.Error = fmt.Sprintf("POST /api/v1/me/exports: %d %.300s", st, body)
		return
	}
	var readyAt time.Time
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(20 * time.Millisecond) {
		if err := callJSON(ctx, srv, d.Token, "GET", "/api/v1/me/exports/"+x.ID, nil, 200, &x); err != nil {
			stopRSS()
			r.Error = err.Error()
			return
		}
		if x.Status == "ready" {
			readyAt = time.Now()
			break
		}
		if x.Status == "failed" {
			stopRSS()
			r.Error = "the export failed"
			return
		}
	}
	if readyAt.IsZero() {
		stopRSS()
		r.Error = "export not ready within 10 minutes"
		return
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.base+x.DownloadURL, nil)
	req.Header.Set("Authorization", "Bearer "+d.Token)
	resp, err := httpClient.Do(req)
	if err != nil {
		stopRSS()
		r.Error = err.Error()
		return
	}
	size, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	done := time.Now()
	peak := stopRSS()
	if err != nil || resp.StatusCode != 200 {
		r.Error = fmt.Sprintf("download: %d %v", resp.StatusCode, err)
		return
	}
	total := done.Sub(t0).Seconds()
	mb := float64(size) / 1e6
	r.metric("request → ready", readyAt.Sub(t0).Seconds(), "s")
	r.metric("download", done.Sub(readyAt).Seconds(), "s")
	r.metric("request → downloaded", total, "s")
	r.metric("archive size", mb, "MB")
	r.metric("throughput (archive MB / total time)", mb/total, "MB/s")
	r.metric("server RSS before", float64(base.RSSKiB)/1024, "MiB")
	r.metric("server peak RSS (sampled every 5 ms)", float64(peak)/1024, "MiB")
	r.metric("extra RSS at peak", float64(peak-base.RSSKiB)/1024, "MiB")
}
