package kernel

import (
	"container/list"
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/tkesj/tkesj"
)

// Issue 17: what the request path needs to know (sessions, member lists,
// send checks) lives in memory, so it reads nothing in the common case.
// Each capability keeps its caches (LRU) and registers with OnInvalidate;
// a change calls Invalidate after its commit, which drops the entries at
// once on this node and, through an event on the bus, on every other node.
// Sessions also go on the close events every sign-out already publishes.

// ControlInvalidate is the bus event (tkesj.Event.Control) that tells every
// node to drop cached entries; its Frame is an Invalidation. The realtime
// hub ignores it.
const ControlInvalidate = "cache_invalidate"

// Invalidation names what changed: conversations whose member lists did,
// and people whose sessions, account status, restrictions, blocks or
// friendships did.
type Invalidation struct {
	Conversations []string `json:"conversations,omitempty"`
	Users         []string `json:"users,omitempty"`
}

// invalidators are the caches' drop functions (OnInvalidate) and the
// other handlers of bus events (OnBusEvent).
type invalidators struct {
	mu       sync.RWMutex
	fns      []func(Invalidation)
	handlers map[*func(tkesj.Event)]struct{}
}

// OnBusEvent has fn called with every event on the bus, from every node,
// on the one subscription the kernel holds: with NATS each subscription is
// a consumer that receives every event, so capabilities share this one
// rather than add their own. fn must not block for long. remove stops the
// calls (one already running may finish).
func (s *Core) OnBusEvent(fn func(tkesj.Event)) (remove func()) {
	h := &fn
	s.invalidators.mu.Lock()
	if s.invalidators.handlers == nil {
		s.invalidators.handlers = map[*func(tkesj.Event)]struct{}{}
	}
	s.invalidators.handlers[h] = struct{}{}
	s.invalidators.mu.Unlock()
	return func() {
		s.invalidators.mu.Lock()
		delete(s.invalidators.handlers, h)
		s.invalidators.mu.Unlock()
	}
}

// OnInvalidate registers drop to empty a cache of what an invalidation
// names, from this node's changes and every other node's. Call it while
// wiring, before serving.
func (s *Core) OnInvalidate(drop func(Invalidation)) {
	s.invalidators.mu.Lock()
	s.invalidators.fns = append(s.invalidators.fns, drop)
	s.invalidators.mu.Unlock()
}

func (s *Core) dropLocal(inv Invalidation) {
	s.invalidators.mu.RLock()
	defer s.invalidators.mu.RUnlock()
	for _, fn := range s.invalidators.fns {
		fn(inv)
	}
}

// Invalidate drops what inv names here, then has every other node do the
// same. Call it after the change committed.
func (s *Core) Invalidate(ctx context.Context, inv Invalidation) {
	s.dropLocal(inv)
	if s.Bus == nil {
		return
	}
	b, err := json.Marshal(inv)
	if err != nil {
		return // a struct of strings always encodes
	}
	if err := s.Bus.Publish(context.WithoutCancel(ctx), tkesj.Event{Control: ControlInvalidate, Frame: b}); err != nil {
		// Entries elsewhere live on until their TTL, or (member lists)
		// until a send finds their member version old.
		s.Log.WarnContext(ctx, "publish invalidation", "err", err.Error())
	}
}

// subscribeInvalidations listens on the bus for the invalidations and the
// sign-outs of every node (this one's own too, already applied: dropping
// twice is harmless) until the loops stop.
func (s *Core) subscribeInvalidations() {
	unsub, err := s.Bus.Subscribe(s.onBusEvent)
	if err != nil {
		// Without it this node would keep what other nodes invalidated
		// until it expires.
		s.Log.Error("subscribe to cache invalidations", "err", err.Error())
		return
	}
	s.Loops.Go(func(ctx context.Context) {
		<-ctx.Done()
		unsub()
	})
}

func (s *Core) onBusEvent(e tkesj.Event) {
	// Called outside the lock, so a handler may remove itself.
	s.invalidators.mu.RLock()
	hs := make([]*func(tkesj.Event), 0, len(s.invalidators.handlers))
	for h := range s.invalidators.handlers {
		hs = append(hs, h)
	}
	s.invalidators.mu.RUnlock()
	for _, h := range hs {
		(*h)(e)
	}
	switch e.Control {
	case ControlInvalidate:
		var inv Invalidation
		if err := json.Unmarshal(e.Frame, &inv); err != nil {
			s.Log.Warn("malformed invalidation event ignored", "err", err.Error())
			return
		}
		s.dropLocal(inv)
	case controlCloseUser, controlCloseDevice, controlCloseOthers:
		// A session ended somewhere (CloseConnections): every cached
		// session of the person goes; the others are read again.
		if len(e.Users) > 0 {
			s.dropLocal(Invalidation{Users: e.Users[:1]})
		}
	}
}

// LRU is a bounded map, least recently used out first once the entries'
// total cost passes max. Every invalidation moves its generation on: a fill
// read from the database under an older generation is not kept, since the
// change it may have missed has already been dropped from here.
type LRU[K comparable, V any] struct {
	mu     sync.Mutex
	items  map[K]*list.Element
	order  list.List // of *lruEntry[K, V], most recently used first
	cost   int
	max    int
	costOf func(V) int
	ttl    time.Duration // 0: entries stay until evicted or invalidated
	gen    uint64
}

type lruEntry[K comparable, V any] struct {
	key     K
	val     V
	cost    int
	expires time.Time
}

// NewLRU returns an LRU holding entries up to a total cost of max (costOf
// each), each for at most ttl (0: no limit).
func NewLRU[K comparable, V any](max int, ttl time.Duration, costOf func(V) int) *LRU[K, V] {
	return &LRU[K, V]{items: map[K]*list.Element{}, max: max, ttl: ttl, costOf: costOf}
}

// Get returns k's value, if held and not expired.
func (c *LRU[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	e := el.Value.(*lruEntry[K, V])
	if c.ttl > 0 && time.Now().After(e.expires) {
		c.removeLocked(el)
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.val, true
}

// Generation is taken before reading what Add will be given.
func (c *LRU[K, V]) Generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// Add keeps v for k unless an invalidation came since gen was taken.
func (c *LRU[K, V]) Add(k K, v V, gen uint64) {
	cost := c.costOf(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || cost > c.max {
		return
	}
	if el, ok := c.items[k]; ok {
		c.removeLocked(el)
	}
	e := &lruEntry[K, V]{key: k, val: v, cost: cost}
	if c.ttl > 0 {
		e.expires = time.Now().Add(c.ttl)
	}
	c.items[k] = c.order.PushFront(e)
	c.cost += cost
	for c.cost > c.max {
		c.removeLocked(c.order.Back())
	}
}

// Remove drops k.
func (c *LRU[K, V]) Remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.items[k]; ok {
		c.removeLocked(el)
	}
}

// RemoveIf drops every entry drop says so of (changes to people are rare:
// a scan is cheaper than an index kept on every fill).
func (c *LRU[K, V]) RemoveIf(drop func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*lruEntry[K, V]); drop(e.key, e.val) {
			c.removeLocked(el)
		}
		el = next
	}
}

func (c *LRU[K, V]) removeLocked(el *list.Element) {
	e := c.order.Remove(el).(*lruEntry[K, V])
	delete(c.items, e.key)
	c.cost -= e.cost
}

func (c *LRU[K, V]) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}
