package messaging

import (
	"container/list"
	"context"
	"database/sql"
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

// directCacheSize bounds the direct-chat send checks held (~150 bytes
// each: 15 MB).
const directCacheSize = 100_000

// directCacheTTL is how long a direct chat's send check is trusted. Blocks
// and ended friendships drop it on every node through the bus at once; the
// TTL bounds how long a node that missed such an event (a subscriber queue
// that overflowed) could go on delivering to someone who blocked the
// sender.
const directCacheTTL = 30 * time.Second

// senderKey is a direct chat and the member who sends in it.
type senderKey struct{ convID, userID string }

// directCheck is what a send needs of a direct chat whose two members may
// message each other (not blocked, the sender has the peer as a friend):
// only such checks are cached, a refusal is read again each time so it
// can say why. Positions (read, received, last seq) are not kept: they
// change with every message and the send does not use them.
type directCheck struct {
	directKey, role, peerID  string
	joinedSeq, peerJoinedSeq int64
}

func (d directCheck) sendCheck(k senderKey) store.SendCheck {
	return store.SendCheck{
		Member:       store.MemberRecord{ConvID: k.convID, UserID: k.userID, Role: d.role, JoinedSeq: d.joinedSeq},
		Conversation: store.ConversationRecord{ID: k.convID, Kind: "direct", DirectKey: sql.NullString{String: d.directKey, Valid: true}},
		PeerID:       d.peerID, PeerJoinedSeq: d.peerJoinedSeq, Friends: true,
	}
}

// caches are the messaging capability's in-memory views.
type caches struct {
	members *lru[string, memberList]     // a group's id → its members
	direct  *lru[senderKey, directCheck] // a direct chat's sender → the send check
}

func newCaches() *caches {
	return &caches{
		members: newLRU[string](memberCacheCost, 0, func(l memberList) int { return len(l.members) + 1 }),
		direct:  newLRU[senderKey](directCacheSize, directCacheTTL, func(directCheck) int { return 1 }),
	}
}

// drop empties this node's caches of what inv names. A direct chat's
// members never change (its members go only with an account, named in
// Users), so a conversation's change touches the member lists only.
func (c *caches) drop(inv invalidation) {
	for _, id := range inv.Conversations {
		c.members.remove(id)
	}
	if len(inv.Users) == 0 {
		return
	}
	c.direct.removeIf(func(k senderKey, d directCheck) bool {
		for _, u := range inv.Users {
			if k.userID == u || d.peerID == u {
				return true
			}
		}
		return false
	})
}

// sendCheck is store.FindSendCheck, from memory when it can be (issue 17):
// in a group, from its cached member list; in a direct chat, from the
// check cached at its sender's last message. A stale group list is safe
// here: a removed member is still refused by store.AppendMessage, which
// stores only a member's message, and someone not (yet) in the cached list
// is looked up in the database.
func (s *Service) sendCheck(ctx context.Context, q *store.Queries, convID, userID string) (store.SendCheck, error) {
	if l, ok := s.caches.members.get(convID); ok {
		for _, m := range l.members {
			if m.UserID == userID {
				return store.SendCheck{
					Member:       store.MemberRecord{ConvID: convID, UserID: userID, Role: m.Role, JoinedSeq: m.JoinedSeq},
					Conversation: store.ConversationRecord{ID: convID, Kind: "group"},
				}, nil
			}
		}
	} else if d, ok := s.caches.direct.get(senderKey{convID, userID}); ok {
		return d.sendCheck(senderKey{convID, userID}), nil
	}
	gen := s.caches.direct.generation()
	sc, err := q.FindSendCheck(ctx, convID, userID)
	if err != nil {
		return sc, err
	}
	if sc.Conversation.Kind == "direct" && sc.PeerID != "" && !sc.Blocked && sc.Friends {
		s.caches.direct.add(senderKey{convID, userID}, directCheck{directKey: sc.Conversation.DirectKey.String, role: sc.Member.Role,
			peerID: sc.PeerID, joinedSeq: sc.Member.JoinedSeq, peerJoinedSeq: sc.PeerJoinedSeq}, gen)
	}
	return sc, nil
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
