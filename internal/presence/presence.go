// Package presence knows which people have a live WebSocket on any node of a
// deployment, so that work meant only for people who are away (a push
// notification, issue 17) can skip everyone else without asking the
// database.
//
// Each node's realtime hub tells its Presence when a person's first live
// socket on the node opens and when their last one stops being live (Set).
// The node publishes those changes on the event bus (coalesced, state not
// history: what goes out is who is here at the moment of publishing) and,
// every Heartbeat, its whole list again. Other nodes keep each remote entry
// until 2×Heartbeat after the event that last listed it was sent (by the
// sender's clock, and never longer than 2×Heartbeat after it arrived: news
// heard late, by a node catching up on the bus, is as old as it is), so the
// people of a node that dies without a word (kill -9, a cut network) count
// as away at most 2×Heartbeat later, and an event lost on the bus is
// repaired by the next heartbeat. Online answers from memory, with no I/O.
//
// Being wrong here costs little either way: someone counted away who is in
// fact here may get a push they did not need (and the push path still asks
// the database whether any device of theirs acknowledged the message); someone
// counted here who is not (a socket that died silently, until the hub's pings
// notice) misses a notification, never a message, which their client fetches
// when it reconnects.
//
// Only internal/app wires it; readers depend on a one-method interface of
// their own (Online). Nothing it logs names a person.
package presence

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj"
)

// Control is the tkesj.Event.Control of presence events. Realtime hubs
// ignore it; only Presence reads it.
const Control = "presence"

// Defaults of Options.
const (
	DefaultHeartbeat = 10 * time.Second
	DefaultMaxRemote = 1_000_000
)

const (
	// chunk bounds the people named in one event: 1,000 ids are ~35 KB of
	// JSON, far below NATS's default 1 MB payload limit.
	chunk = 1000
	// publishTimeout bounds one Publish; a bus that does not answer in it
	// loses that event, which the next heartbeat repairs.
	publishTimeout = 5 * time.Second
)

// Operations of a presence event (frame.Op).
const (
	opOn      = "on"      // Users came online on Node
	opOff     = "off"     // Users have no live socket on Node any more
	opRefresh = "refresh" // Users are still on Node (the heartbeat)
	opHello   = "hello"   // Node started: others, refresh now
	opBye     = "bye"     // Node stops: forget everyone on it
)

// frame is a presence event's Frame; the people are its Users.
type frame struct {
	Node string `json:"node"`
	Op   string `json:"op"`
	// At is when the node published it (Unix milliseconds, its wall
	// clock). An event heard late (a lagging subscription, or one catching
	// up after a reconnect on what the bus kept) is trusted only for what
	// is left of its 2×Heartbeat; without At (an older node) from when it
	// arrived.
	At int64 `json:"at,omitempty"`
}

// Options tune a Presence. A zero field takes its default.
type Options struct {
	// Heartbeat is how often the node publishes its whole list; a remote
	// entry lives 2×Heartbeat after it was last heard.
	Heartbeat time.Duration
	// MaxRemote bounds the remote (person, node) entries held; beyond it
	// new ones are refused (those people count as away) and counted.
	MaxRemote int
	// Log receives counts and errors, never a person's id. nil discards.
	Log *slog.Logger
}

// Presence is one node's view of who is online where. It is safe for
// concurrent use.
type Presence struct {
	bus       tkesj.Bus // nil: this node alone
	node      string
	heartbeat time.Duration
	ttl       time.Duration
	maxRemote int
	log       *slog.Logger
	epoch     time.Time // stamps are monotonic durations since it

	mu      sync.RWMutex
	local   map[string]struct{} // people with a live socket on this node
	remote  map[string][]stamp  // person -> the other nodes that list them
	entries int                 // stamps in remote
	dirty   map[string]struct{} // local people whose change is not yet published

	wake    chan struct{} // Set changed something (cap 1)
	refresh chan struct{} // another node said hello (cap 1)
	stop    chan struct{}
	done    chan struct{}
	unsub   func()
	closed  atomic.Bool

	refused       atomic.Uint64
	publishErrors atomic.Uint64
}

// stamp says node listed the person until until (since epoch).
type stamp struct {
	node  string
	until time.Duration
}

// New returns the presence of a new node that shares bus with the others;
// with a nil bus it knows only this node's sockets (one node, nothing to
// share). Close it to say goodbye and stop its heartbeat.
func New(bus tkesj.Bus, opts Options) (*Presence, error) {
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.MaxRemote <= 0 {
		opts.MaxRemote = DefaultMaxRemote
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	p := &Presence{
		bus:       bus,
		node:      newNodeID(),
		heartbeat: opts.Heartbeat,
		ttl:       2 * opts.Heartbeat,
		maxRemote: opts.MaxRemote,
		log:       opts.Log,
		epoch:     time.Now(),
		local:     make(map[string]struct{}),
		remote:    make(map[string][]stamp),
		dirty:     make(map[string]struct{}),
		wake:      make(chan struct{}, 1),
		refresh:   make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		unsub:     func() {},
	}
	if bus == nil {
		close(p.done)
		return p, nil
	}
	unsub, err := bus.Subscribe(p.receive)
	if err != nil {
		return nil, err
	}
	p.unsub = unsub
	go p.run()
	return p, nil
}

// Set records that userID's first live socket on this node opened (online)
// or that their last one stopped being live. The realtime hub calls it, in
// order for each person and under its own lock, so it never blocks: the
// change is published by Presence's own goroutine.
func (p *Presence) Set(userID string, online bool) {
	p.mu.Lock()
	if online {
		p.local[userID] = struct{}{}
	} else {
		delete(p.local, userID)
	}
	if p.bus != nil {
		p.dirty[userID] = struct{}{}
	}
	p.mu.Unlock()
	if p.bus != nil {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
}

// Online reports whether userID has a live socket on this node, or on
// another node that listed them within 2×Heartbeat. It does no I/O.
func (p *Presence) Online(userID string) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if _, ok := p.local[userID]; ok {
		return true
	}
	now := time.Since(p.epoch)
	for _, s := range p.remote[userID] {
		if s.until > now {
			return true
		}
	}
	return false
}

// Stats are a Presence's counts (metrics).
type Stats struct {
	Local         int    // people with a live socket on this node
	Remote        int    // (person, other node) entries held, live or not yet swept
	Refused       uint64 // remote entries refused over MaxRemote
	PublishErrors uint64 // presence events the bus did not take
}

// Stats reports the counts.
func (p *Presence) Stats() Stats {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return Stats{Local: len(p.local), Remote: p.entries, Refused: p.refused.Load(), PublishErrors: p.publishErrors.Load()}
}

// Close stops the heartbeat and tells the other nodes to forget this one's
// people at once (they would expire anyway). Closing twice is not an error.
func (p *Presence) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.unsub()
	if p.bus == nil {
		return nil
	}
	close(p.stop)
	<-p.done
	p.publish(opBye, nil)
	return nil
}

// run publishes changes as they come and the whole list every heartbeat,
// and sweeps expired remote entries.
func (p *Presence) run() {
	defer close(p.done)
	t := time.NewTicker(p.heartbeat)
	defer t.Stop()
	p.publish(opHello, nil)
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
			p.flush()
		case <-p.refresh:
			p.flush()
			p.publishAll()
		case <-t.C:
			p.flush()
			p.publishAll()
			p.sweep()
		}
	}
}

// flush publishes the people whose state changed since the last flush, as
// it is now. A batch the bus refuses is not retried: the next heartbeat
// lists who is here, and who left expires elsewhere by its TTL.
func (p *Presence) flush() {
	p.mu.Lock()
	if len(p.dirty) == 0 {
		p.mu.Unlock()
		return
	}
	var on, off []string
	for id := range p.dirty {
		if _, ok := p.local[id]; ok {
			on = append(on, id)
		} else {
			off = append(off, id)
		}
	}
	clear(p.dirty)
	p.mu.Unlock()
	if len(on) > 0 {
		p.publish(opOn, on)
	}
	if len(off) > 0 {
		p.publish(opOff, off)
	}
}

// publishAll publishes this node's whole list (the heartbeat). The list is
// taken at once, so a change made after it is flushed after it.
func (p *Presence) publishAll() {
	p.mu.RLock()
	all := slices.Collect(maps.Keys(p.local))
	p.mu.RUnlock()
	if len(all) == 0 {
		return
	}
	p.publish(opRefresh, all)
}

// publish sends op for users, chunk by chunk; hello and bye are one event
// naming nobody.
func (p *Presence) publish(op string, users []string) {
	b, _ := json.Marshal(frame{Node: p.node, Op: op, At: time.Now().UnixMilli()})
	for {
		n := min(len(users), chunk)
		ctx, cancel := context.WithTimeout(context.Background(), publishTimeout)
		err := p.bus.Publish(ctx, tkesj.Event{Users: users[:n], Frame: b, Control: Control})
		cancel()
		if err != nil {
			p.publishErrors.Add(1)
			p.log.Warn("presence: publish", "op", op, "people", n, "err", err.Error())
		}
		if users = users[n:]; len(users) == 0 {
			return
		}
	}
}

// receive is the bus subscription: it applies other nodes' events.
func (p *Presence) receive(e tkesj.Event) {
	if e.Control != Control {
		return
	}
	var f frame
	if err := json.Unmarshal(e.Frame, &f); err != nil || f.Node == "" || f.Node == p.node {
		return
	}
	switch f.Op {
	case opOn, opRefresh:
		now := time.Since(p.epoch)
		until := now + p.ttl
		if f.At > 0 {
			// Only ever earlier: a sender whose clock runs ahead gets no
			// more than news heard at once, one whose clock is behind has
			// its people count as away that much sooner (a push they may
			// not need, never one missed).
			if age := time.Since(time.UnixMilli(f.At)); age > 0 {
				until -= age
			}
		}
		if until <= now {
			return // too old to say anyone is here now
		}
		p.mu.Lock()
		node := f.Node
		for _, id := range e.Users {
			p.stampLocked(id, node, until)
		}
		p.mu.Unlock()
	case opOff:
		p.mu.Lock()
		for _, id := range e.Users {
			p.dropLocked(id, f.Node)
		}
		p.mu.Unlock()
	case opBye:
		p.mu.Lock()
		for id := range p.remote {
			p.dropLocked(id, f.Node)
		}
		p.mu.Unlock()
	case opHello:
		select {
		case p.refresh <- struct{}{}:
		default:
		}
	}
}

// stampLocked records that node lists id until until.
func (p *Presence) stampLocked(id, node string, until time.Duration) {
	list := p.remote[id]
	for i := range list {
		if list[i].node == node {
			// Events from one node come in order, but clocks may step:
			// never shorten what a later event said.
			list[i].until = max(list[i].until, until)
			return
		}
	}
	if p.entries >= p.maxRemote {
		p.refused.Add(1)
		return
	}
	p.remote[id] = append(list, stamp{node: node, until: until})
	p.entries++
}

// dropLocked forgets that node lists id.
func (p *Presence) dropLocked(id, node string) {
	list := p.remote[id]
	for i := range list {
		if list[i].node == node {
			list = slices.Delete(list, i, i+1)
			p.entries--
			break
		}
	}
	if len(list) == 0 {
		delete(p.remote, id)
	} else {
		p.remote[id] = list
	}
}

// sweep forgets expired remote entries, so that memory follows who is
// online, not who ever was.
func (p *Presence) sweep() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Since(p.epoch)
	for id, list := range p.remote {
		kept := slices.DeleteFunc(list, func(s stamp) bool { return s.until <= now })
		p.entries -= len(list) - len(kept)
		if len(kept) == 0 {
			delete(p.remote, id)
		} else {
			p.remote[id] = kept
		}
	}
}

// newNodeID names this process among the nodes: a new one at every start, so
// a restarted node never inherits the entries of the process before it.
func newNodeID() string { return "n" + rand.Text() }
