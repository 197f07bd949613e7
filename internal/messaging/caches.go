package messaging

import (
	"container/list"
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
)

// Issue 17: what the send path needs to know lives in memory, so the
// request path reads nothing in the common case. Each cache here is
// bounded, filled on a miss and emptied of what a change touches, on this
// node at once and on every other node through an invalidation event on
// the bus. Where a stale entry would let a message reach the wrong people,
// the send checks it against the database in the transaction that stores
// the message (the member version, schema 0056), so correctness never
// hangs on an event arriving.

// ControlInvalidate is the bus event (tkesj.Event.Control) that tells every
// node to drop cached entries; its Frame is an invalidation. The realtime
// hub ignores it.
const ControlInvalidate = "cache_invalidate"

// invalidation names what changed: conversations whose member lists did,
// and people whose blocks, friendships, sessions or account did.
type invalidation struct {
	Conversations []string `json:"conversations,omitempty"`
	Users         []string `json:"users,omitempty"`
}

// memberCacheCost bounds the members the fan-out cache holds over all its
// conversations (~50 bytes each: 10 MB), so 20,000 groups of 500.
const memberCacheCost = 200_000

// memberList is a conversation's members as of a member version.
type memberList struct {
	version int64
	members []store.FanOutMember // shared by readers: never modified
}

// lru is a bounded map, least recently used out first once the entries'
// total cost passes max. Every invalidation moves its generation on: a fill
// read from the database under an older generation is not kept, since the
// change it may have missed has already been dropped from here.
type lru[K comparable, V any] struct {
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

func newLRU[K comparable, V any](max int, ttl time.Duration, costOf func(V) int) *lru[K, V] {
	return &lru[K, V]{items: map[K]*list.Element{}, max: max, ttl: ttl, costOf: costOf}
}

// get returns k's value, if held and not expired.
func (c *lru[K, V]) get(k K) (V, bool) {
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

// generation is taken before reading what add will be given.
func (c *lru[K, V]) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// add keeps v for k unless an invalidation came since gen was taken.
func (c *lru[K, V]) add(k K, v V, gen uint64) {
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

// remove drops k.
func (c *lru[K, V]) remove(k K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.items[k]; ok {
		c.removeLocked(el)
	}
}

// removeIf drops every entry drop says so of (changes to people are rare:
// a scan is cheaper than an index kept on every fill).
func (c *lru[K, V]) removeIf(drop func(K, V) bool) {
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

func (c *lru[K, V]) removeLocked(el *list.Element) {
	e := c.order.Remove(el).(*lruEntry[K, V])
	delete(c.items, e.key)
	c.cost -= e.cost
}

func (c *lru[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.items)
}

// caches are the messaging capability's in-memory views.
type caches struct {
	members *lru[string, memberList] // conversation id → its members
}

func newCaches() *caches {
	return &caches{
		members: newLRU[string](memberCacheCost, 0, func(l memberList) int { return len(l.members) + 1 }),
	}
}

// drop empties this node's caches of what inv names.
func (c *caches) drop(inv invalidation) {
	for _, id := range inv.Conversations {
		c.members.remove(id)
	}
}

// invalidate drops what inv names here, then has every other node do the
// same. Called after the change committed.
func (s *Service) invalidate(ctx context.Context, inv invalidation) {
	s.caches.drop(inv)
	if s.Bus == nil {
		return
	}
	b, err := json.Marshal(inv)
	if err != nil {
		return // a struct of strings always encodes
	}
	if err := s.Bus.Publish(context.WithoutCancel(ctx), tkesj.Event{Control: ControlInvalidate, Frame: b}); err != nil {
		// The member version still keeps other nodes from using a stale
		// list; their entries age out of the cache.
		s.Log.WarnContext(ctx, "publish invalidation", "err", err.Error())
	}
}

// onEvent is the bus subscription: invalidations from any node (this one's
// own too, already applied: dropping twice is harmless).
func (s *Service) onEvent(e tkesj.Event) {
	if e.Control != ControlInvalidate {
		return
	}
	var inv invalidation
	if err := json.Unmarshal(e.Frame, &inv); err != nil {
		s.Log.Warn("malformed invalidation event ignored", "err", err.Error())
		return
	}
	s.caches.drop(inv)
}
