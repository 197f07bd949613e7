package messaging

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/social"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Conversation is a chat as one member sees it.
type Conversation struct {
	ID, Kind     string
	Name         string // groups only
	Announcement string // groups only
	Peer         *social.Profile
	Role         string
	LastSeq      int64
	ReadSeq      int64
	ReceivedSeq  int64
	Muted        bool
	Mentioned    bool // an unread message mentions the viewer ("[@you]")
	Pinned       bool
	// DisappearAfter is the disappearing-messages timer (0: off).
	DisappearAfter time.Duration
	UpdatedAt      time.Time
	MemberCount    int
	Members        []Member // only when asked for one conversation
	LastMessage    *Message
}

// Member is one person in a conversation.
type Member struct {
	social.Profile
	Role    string
	ReadSeq int64
}

type groupMeta struct {
	Name         string `json:"name"`
	Announcement string `json:"announcement,omitempty"`
}

func convKeyID(convID string) string { return "conv:" + convID }

func directKey(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "|" + b
}

// CreateDirect returns the direct conversation between the caller and a
// friend, creating it on first use (get-or-create). Strangers and blocked
// people get not_found-free refusals that say what to do.
func (s *Service) CreateDirect(ctx context.Context, a kernel.Auth, peer string) (Conversation, bool, error) {
	if err := s.RequireActive(ctx, a); err != nil {
		return Conversation{}, false, err
	}
	if peer == a.UserID {
		return Conversation{}, false, tkesj.Errorf(tkesj.EInvalid, "invalid_members", "a direct chat needs one other person")
	}
	if err := s.CanMessage(ctx, s.DB.Read(), a.UserID, peer); err != nil {
		return Conversation{}, false, err
	}
	key := directKey(a.UserID, peer)
	now := s.Now()
	created := false
	var id string
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		if c, err := q.FindDirectConversation(ctx, key); err == nil {
			id = c.ID
			return nil
		} else if tkesj.ErrorKindOf(err) != tkesj.ENotFound {
			return err
		}
		id, created = kernel.NewID("c"), true
		if err := q.CreateConversation(ctx, store.ConversationRecord{ID: id, Kind: "direct", DirectKey: sql.NullString{String: key, Valid: true}, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		for _, u := range []string{a.UserID, peer} {
			if err := q.AddMember(ctx, store.MemberRecord{ConvID: id, UserID: u, Role: "member", JoinedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Conversation{}, false, s.Internal(ctx, "create direct", err)
	}
	c, err := s.Conversation(ctx, a, id)
	return c, created, err
}

// CreateGroup makes a group with the caller as owner and the given friends
// as members (R-MSG-2).
func (s *Service) CreateGroup(ctx context.Context, a kernel.Auth, name string, members []string) (Conversation, error) {
	if err := s.RequireActive(ctx, a); err != nil {
		return Conversation{}, err
	}
	name, err := groupName(name)
	if err != nil {
		return Conversation{}, err
	}
	ids := kernel.UniqueOthers(members, a.UserID)
	if len(ids)+1 > s.Cfg.GroupCap {
		return Conversation{}, tkesj.Errorf(tkesj.EInvalid, "group_full", "a group has at most %d members", s.Cfg.GroupCap)
	}
	q := s.DB.Read()
	for _, id := range ids {
		if err := s.CanMessage(ctx, q, a.UserID, id); err != nil {
			return Conversation{}, err
		}
	}
	id := kernel.NewID("c")
	if err := s.Keys.CreateKey(ctx, convKeyID(id)); err != nil {
		return Conversation{}, s.Internal(ctx, "create group", err)
	}
	meta, err := s.Seal(ctx, convKeyID(id), "conversations/"+id+"/meta", groupMeta{Name: name})
	if err != nil {
		return Conversation{}, s.Internal(ctx, "create group", err)
	}
	now := s.Now()
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.CreateConversation(ctx, store.ConversationRecord{ID: id, Kind: "group", Meta: meta, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if err := q.AddMember(ctx, store.MemberRecord{ConvID: id, UserID: a.UserID, Role: "owner", JoinedAt: now}); err != nil {
			return err
		}
		for _, m := range ids {
			if err := q.AddMember(ctx, store.MemberRecord{ConvID: id, UserID: m, Role: "member", JoinedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.Keys.Destroy(ctx, convKeyID(id))
		return Conversation{}, s.Internal(ctx, "create group", err)
	}
	s.Publish(ctx, append(ids, a.UserID), wire.ConversationFrame{Type: "conversation", ConversationID: id, Event: "created"})
	return s.Conversation(ctx, a, id)
}

func groupName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 64 || strings.ContainsAny(name, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069") {
		return "", tkesj.Errorf(tkesj.EInvalid, "invalid_group_name", "a group name has 1 to 64 characters")
	}
	return name, nil
}

// Member returns the caller's membership, or not_found for a conversation
// they are not in (which is also the answer when it does not exist).
func (s *Service) Member(ctx context.Context, q *store.Queries, a kernel.Auth, convID string) (store.MemberRecord, error) {
	m, err := q.FindMember(ctx, convID, a.UserID)
	if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		return m, s.Internal(ctx, "member", err)
	}
	return m, err
}

// ConversationMembers tells a member whether a conversation is a group and
// who is in it; not_found for non-members. In a direct chat the two must
// still be able to message each other (not blocked, still friends).
func (s *Service) ConversationMembers(ctx context.Context, userID, convID string) (bool, []string, error) {
	q := s.DB.Read()
	if _, err := s.Member(ctx, q, kernel.Auth{UserID: userID}, convID); err != nil {
		return false, nil, err
	}
	rec, err := q.FindConversation(ctx, convID)
	if err != nil {
		return false, nil, s.Internal(ctx, "conversation", err)
	}
	ids, err := q.MemberIDs(ctx, convID)
	if err != nil {
		return false, nil, s.Internal(ctx, "conversation", err)
	}
	if rec.Kind == "direct" {
		for _, id := range ids {
			if id != userID {
				if err := s.CanMessage(ctx, q, userID, id); err != nil {
					return false, nil, err
				}
			}
		}
	}
	return rec.Kind != "direct", ids, nil
}

// Conversation returns one conversation with its members; not_found for non-members.
func (s *Service) Conversation(ctx context.Context, a kernel.Auth, id string) (Conversation, error) {
	q := s.DB.Read()
	m, err := s.Member(ctx, q, a, id)
	if err != nil {
		return Conversation{}, err
	}
	rec, err := q.FindConversation(ctx, id)
	if err != nil {
		return Conversation{}, s.Internal(ctx, "conversation", err)
	}
	c := s.conversationView(ctx, q, a, rec, m)
	if mentioned, err := q.MentionedUnread(ctx, a.UserID); err == nil {
		c.Mentioned = slices.Contains(mentioned, id)
	}
	ms, err := q.Members(ctx, id)
	if err != nil {
		return Conversation{}, s.Internal(ctx, "conversation", err)
	}
	for _, mm := range ms {
		if p, err := s.LookupProfile(ctx, q, mm.UserID); err == nil || p.Unreadable {
			c.Members = append(c.Members, Member{Profile: p, Role: mm.Role, ReadSeq: mm.ReadSeq})
		}
	}
	c.MemberCount = len(c.Members)
	return c, nil
}

func (s *Service) conversationView(ctx context.Context, q *store.Queries, a kernel.Auth, rec store.ConversationRecord, m store.MemberRecord) Conversation {
	c := Conversation{ID: rec.ID, Kind: rec.Kind, Role: m.Role, LastSeq: rec.LastSeq, ReadSeq: m.ReadSeq, ReceivedSeq: m.ReceivedSeq,
		Muted: m.Muted, Pinned: !m.PinnedAt.IsZero(), DisappearAfter: rec.DisappearAfter, UpdatedAt: rec.UpdatedAt}
	if rec.Kind == "group" {
		var meta groupMeta
		if err := s.Open(ctx, convKeyID(rec.ID), "conversations/"+rec.ID+"/meta", rec.Meta, &meta); err == nil {
			c.Name, c.Announcement = meta.Name, meta.Announcement
		}
	} else if rec.DirectKey.Valid {
		for _, id := range strings.Split(rec.DirectKey.String, "|") {
			if id != a.UserID {
				if p, err := s.LookupProfile(ctx, q, id); err == nil || p.Unreadable {
					c.Peer = &p // an unreadable profile is damaged, not deleted (issue 14 item 9)
				} else {
					c.Peer = &social.Profile{ID: id, Nickname: ""} // a destroyed account
				}
			}
		}
	}
	if c.ReadSeq < m.JoinedSeq {
		c.ReadSeq = m.JoinedSeq
	}
	return c
}

// Conversations lists the caller's conversations, most recently active first,
// each with its unread count and last message.
func (s *Service) Conversations(ctx context.Context, a kernel.Auth) ([]Conversation, error) {
	q := s.DB.Read()
	recs, ms, err := q.ConversationsOf(ctx, a.UserID)
	if err != nil {
		return nil, s.Internal(ctx, "conversations", err)
	}
	mentioned, err := q.MentionedUnread(ctx, a.UserID)
	if err != nil {
		return nil, s.Internal(ctx, "conversations", err)
	}
	out := make([]Conversation, 0, len(recs))
	for i, rec := range recs {
		c := s.conversationView(ctx, q, a, rec, ms[i])
		c.Mentioned = slices.Contains(mentioned, rec.ID)
		if rec.LastSeq > ms[i].JoinedSeq {
			if msgs, err := q.Messages(ctx, store.MessageFilter{ConvID: rec.ID, ViewerID: a.UserID, AfterSeq: ms[i].JoinedSeq, BeforeSeq: rec.LastSeq + 1, Limit: 1, Newest: true, LiveAt: s.Now()}); err == nil && len(msgs) == 1 {
				one := []Message{s.MessageView(ctx, msgs[0])}
				s.RedactCards(ctx, q, a.UserID, one)
				c.LastMessage = &one[0]
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// GroupUpdate changes a group's name or announcement; nil means unchanged.
type GroupUpdate struct{ Name, Announcement *string }

// UpdateGroup lets the owner or an admin rename a group or set its announcement.
func (s *Service) UpdateGroup(ctx context.Context, a kernel.Auth, id string, up GroupUpdate) (Conversation, error) {
	q := s.DB.Read()
	m, err := s.Member(ctx, q, a, id)
	if err != nil {
		return Conversation{}, err
	}
	rec, err := q.FindConversation(ctx, id)
	if err != nil {
		return Conversation{}, s.Internal(ctx, "update group", err)
	}
	if rec.Kind != "group" {
		return Conversation{}, tkesj.Errorf(tkesj.EInvalid, "not_a_group", "only groups have a name and an announcement")
	}
	if m.Role != "owner" && m.Role != "admin" {
		return Conversation{}, tkesj.Errorf(tkesj.EForbidden, "forbidden", "only the group's owner and admins can change it")
	}
	var meta groupMeta
	if err := s.Open(ctx, convKeyID(id), "conversations/"+id+"/meta", rec.Meta, &meta); err != nil {
		return Conversation{}, s.Internal(ctx, "update group", err)
	}
	if up.Name != nil {
		if meta.Name, err = groupName(*up.Name); err != nil {
			return Conversation{}, err
		}
	}
	if up.Announcement != nil {
		if len([]rune(*up.Announcement)) > 2000 {
			return Conversation{}, tkesj.Errorf(tkesj.EInvalid, "announcement_too_long", "an announcement has at most 2000 characters")
		}
		meta.Announcement = strings.TrimSpace(*up.Announcement)
	}
	sealed, err := s.Seal(ctx, convKeyID(id), "conversations/"+id+"/meta", meta)
	if err != nil {
		return Conversation{}, s.Internal(ctx, "update group", err)
	}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.UpdateConversationMeta(ctx, id, sealed, s.Now()) }); err != nil {
		return Conversation{}, s.Internal(ctx, "update group", err)
	}
	s.PublishToMembers(ctx, id, wire.ConversationFrame{Type: "conversation", ConversationID: id, Event: "updated"})
	return s.Conversation(ctx, a, id)
}

// AddMembers invites friends of the caller into a group.
func (s *Service) AddMembers(ctx context.Context, a kernel.Auth, id string, users []string) (Conversation, error) {
	if err := s.RequireActive(ctx, a); err != nil {
		return Conversation{}, err
	}
	q := s.DB.Read()
	if _, err := s.Member(ctx, q, a, id); err != nil {
		return Conversation{}, err
	}
	rec, err := q.FindConversation(ctx, id)
	if err != nil {
		return Conversation{}, s.Internal(ctx, "add members", err)
	}
	if rec.Kind != "group" {
		return Conversation{}, tkesj.Errorf(tkesj.EInvalid, "not_a_group", "people can be added to groups only")
	}
	ids := kernel.UniqueOthers(users, a.UserID)
	if len(ids) == 0 {
		return Conversation{}, tkesj.Errorf(tkesj.EInvalid, "invalid_members", "name at least one person to add")
	}
	for _, u := range ids {
		if err := s.CanMessage(ctx, q, a.UserID, u); err != nil {
			return Conversation{}, err
		}
	}
	now := s.Now()
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		n, err := q.CountMembers(ctx, id)
		if err != nil {
			return err
		}
		if n+len(ids) > s.Cfg.GroupCap {
			return tkesj.Errorf(tkesj.EInvalid, "group_full", "a group has at most %d members", s.Cfg.GroupCap)
		}
		c, err := q.FindConversation(ctx, id)
		if err != nil {
			return err
		}
		for _, u := range ids {
			err := q.AddMember(ctx, store.MemberRecord{ConvID: id, UserID: u, Role: "member", JoinedSeq: c.LastSeq, ReceivedSeq: c.LastSeq, ReadSeq: c.LastSeq, JoinedAt: now})
			if err != nil && tkesj.ErrorCode(err) != "already_member" {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Conversation{}, s.Internal(ctx, "add members", err)
	}
	s.Invalidate(ctx, kernel.Invalidation{Conversations: []string{id}})
	s.PublishToMembers(ctx, id, wire.ConversationFrame{Type: "conversation", ConversationID: id, Event: "members_changed"})
	return s.Conversation(ctx, a, id)
}

// RemoveMember takes someone out of a group: oneself (leaving) always; others
// only by the owner, or by an admin for plain members. When the owner leaves,
// ownership passes to the longest-standing admin, else member.
func (s *Service) RemoveMember(ctx context.Context, a kernel.Auth, id, userID string) error {
	notify := []string{}
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		// The conversation's row before the member's (BumpMemberVersion).
		if err := q.BumpMemberVersion(ctx, id); err != nil {
			return err
		}
		me, err := q.FindMember(ctx, id, a.UserID)
		if err != nil {
			return err
		}
		c, err := q.FindConversation(ctx, id)
		if err != nil {
			return err
		}
		if c.Kind != "group" {
			return tkesj.Errorf(tkesj.EInvalid, "not_a_group", "nobody can leave or be removed from a direct chat; delete it instead")
		}
		target, err := q.FindMember(ctx, id, userID)
		if err != nil {
			return tkesj.ErrNotFound("member")
		}
		if userID != a.UserID {
			allowed := me.Role == "owner" || (me.Role == "admin" && target.Role == "member")
			if !allowed {
				return tkesj.Errorf(tkesj.EForbidden, "forbidden", "only the owner, or an admin for plain members, can remove people")
			}
		}
		notify, _ = q.MemberIDs(ctx, id)
		if _, err := q.RemoveMember(ctx, id, userID); err != nil {
			return err
		}
		if target.Role == "owner" {
			return s.PassOwnership(ctx, q, id)
		}
		return nil
	})
	if err != nil {
		return s.Internal(ctx, "remove member", err)
	}
	s.Invalidate(ctx, kernel.Invalidation{Conversations: []string{id}})
	s.Publish(ctx, notify, wire.ConversationFrame{Type: "conversation", ConversationID: id, Event: "members_changed"})
	return nil
}

// PassOwnership gives a group whose owner left a new owner: the first admin,
// else the first member; an empty group is deleted with its key.
func (s *Service) PassOwnership(ctx context.Context, q *store.Queries, id string) error {
	ms, err := q.Members(ctx, id)
	if err != nil {
		return err
	}
	if len(ms) == 0 {
		s.Keys.Destroy(ctx, convKeyID(id))
		// SQLite: its index rows go with the indexer's next pass (a
		// request in search_unindex); wake it for that.
		s.wakeIndexer()
		return q.DeleteConversation(ctx, id)
	}
	return q.SetMemberRole(ctx, id, ms[0].UserID, "owner")
}

// SetRole lets the owner make someone an admin or a member, or hand over
// ownership (role "owner": the caller becomes an admin).
func (s *Service) SetRole(ctx context.Context, a kernel.Auth, id, userID, role string) error {
	if role != "admin" && role != "member" && role != "owner" {
		return tkesj.Errorf(tkesj.EInvalid, "invalid_role", "role must be owner, admin or member")
	}
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		// The conversation's row before the members' (BumpMemberVersion).
		if err := q.BumpMemberVersion(ctx, id); err != nil {
			return err
		}
		me, err := q.FindMember(ctx, id, a.UserID)
		if err != nil {
			return err
		}
		if me.Role != "owner" {
			return tkesj.Errorf(tkesj.EForbidden, "forbidden", "only the group's owner can change roles")
		}
		if _, err := q.FindMember(ctx, id, userID); err != nil || userID == a.UserID {
			return tkesj.ErrNotFound("member")
		}
		if role == "owner" {
			if err := q.SetMemberRole(ctx, id, a.UserID, "admin"); err != nil {
				return err
			}
		}
		return q.SetMemberRole(ctx, id, userID, role)
	})
	if err != nil {
		return s.Internal(ctx, "set role", err)
	}
	s.Invalidate(ctx, kernel.Invalidation{Conversations: []string{id}})
	s.PublishToMembers(ctx, id, wire.ConversationFrame{Type: "conversation", ConversationID: id, Event: "members_changed"})
	return nil
}

// Mute switches push notifications for one conversation (R-MSG-5, R-NTF-2).
func (s *Service) Mute(ctx context.Context, a kernel.Auth, id string, muted bool) error {
	if _, err := s.Member(ctx, s.DB.Read(), a, id); err != nil {
		return err
	}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.SetMuted(ctx, id, a.UserID, muted) }); err != nil {
		return s.Internal(ctx, "mute", err)
	}
	return nil
}
