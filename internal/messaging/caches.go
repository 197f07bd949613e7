package messaging

import (
	"context"
	"database/sql"
	"time"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// Issue 17: a send reads nothing before it writes in the common case. A
// group's member list (for fan-out and the send check) and a direct chat's
// send check live here, dropped on changes through kernel.Invalidate. Where
// a stale entry would let a message reach the wrong people, the send checks
// it against the database in the transaction that stores the message (the
// member version, schema 0056), so correctness never hangs on an event
// arriving.

// memberCacheCost bounds the members the fan-out cache holds over all its
// conversations (~50 bytes each: 10 MB), so 20,000 groups of 500.
const memberCacheCost = 200_000

// memberList is a conversation's members as of a member version.
type memberList struct {
	version int64
	members []store.FanOutMember // shared by readers: never modified
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
	members *kernel.LRU[string, memberList]     // a group's id → its members
	direct  *kernel.LRU[senderKey, directCheck] // a direct chat's sender → the send check
}

func newCaches() *caches {
	return &caches{
		members: kernel.NewLRU[string](memberCacheCost, 0, func(l memberList) int { return len(l.members) + 1 }),
		direct:  kernel.NewLRU[senderKey](directCacheSize, directCacheTTL, func(directCheck) int { return 1 }),
	}
}

// drop empties this node's caches of what inv names. A direct chat's
// members never change (its members go only with an account, named in
// Users), so a conversation's change touches the member lists only.
func (c *caches) drop(inv kernel.Invalidation) {
	for _, id := range inv.Conversations {
		c.members.Remove(id)
	}
	if len(inv.Users) == 0 {
		return
	}
	c.direct.RemoveIf(func(k senderKey, d directCheck) bool {
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
	if l, ok := s.caches.members.Get(convID); ok {
		for _, m := range l.members {
			if m.UserID == userID {
				return store.SendCheck{
					Member:       store.MemberRecord{ConvID: convID, UserID: userID, Role: m.Role, JoinedSeq: m.JoinedSeq},
					Conversation: store.ConversationRecord{ID: convID, Kind: "group"},
				}, nil
			}
		}
	} else if d, ok := s.caches.direct.Get(senderKey{convID, userID}); ok {
		return d.sendCheck(senderKey{convID, userID}), nil
	}
	gen := s.caches.direct.Generation()
	sc, err := q.FindSendCheck(ctx, convID, userID)
	if err != nil {
		return sc, err
	}
	if sc.Conversation.Kind == "direct" && sc.PeerID != "" && !sc.Blocked && sc.Friends {
		s.caches.direct.Add(senderKey{convID, userID}, directCheck{directKey: sc.Conversation.DirectKey.String, role: sc.Member.Role,
			peerID: sc.PeerID, joinedSeq: sc.Member.JoinedSeq, peerJoinedSeq: sc.PeerJoinedSeq}, gen)
	}
	return sc, nil
}
