package messaging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/social"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/validate"
	"github.com/tkesj/tkesj/internal/wire"
)

// Message kinds (R-MSG-3).
const (
	KindText     = "text"
	KindImage    = "image"
	KindVideo    = "video"
	KindFile     = "file"
	KindVoice    = "voice"
	KindLocation = "location"
	KindCard     = "card"
	KindHistory  = "history" // a merged forward; made by Forward only
	// KindCall is a call record, written by the server when a call ends
	// (R-CAL-1); clients cannot send it.
	KindCall = "call"
)

// SendInput is one message to send.
type SendInput struct {
	ClientID string
	Kind     string
	Text     string
	MediaID  string
	Location *tkesj.Location
	CardUser string // the person a contact card shows
	// ReplyTo quotes an earlier message of the conversation (R-MSG-7).
	ReplyTo int64
	// Mentions names members; MentionAll (owners and admins of a group)
	// names everyone (R-MSG-7).
	Mentions   []string
	MentionAll bool
}

// body is the sealed part of a message.
type body struct {
	Text       string          `json:"text,omitempty"`
	MediaID    string          `json:"media_id,omitempty"`
	Location   *tkesj.Location `json:"location,omitempty"`
	CardUser   string          `json:"card_user,omitempty"`
	ReplyTo    int64           `json:"reply_to,omitempty"`
	Mentions   []string        `json:"mentions,omitempty"`
	MentionAll bool            `json:"mention_all,omitempty"`
	Forwarded  bool            `json:"forwarded,omitempty"`
	History    *History        `json:"history,omitempty"`
	System     *SystemEvent    `json:"system,omitempty"`
	Call       *CallInfo       `json:"call,omitempty"`
}

// CallInfo is what a call record message says: the call's media, how it
// ended ("completed", "missed", "declined", "cancelled") and, when
// completed, how long it lasted.
type CallInfo struct {
	CallID    string `json:"call_id"`
	Media     string `json:"media"`
	State     string `json:"state"`
	DurationS int    `json:"duration_s"`
	Reason    string `json:"reason,omitempty"`
}

// Message is a message as a member sees it.
type Message struct {
	ID             string
	ConversationID string
	Seq            int64
	SenderID       string
	ClientID       string
	Kind           string
	Text           string
	Media          *tkesj.MediaInfo
	Location       *tkesj.Location
	Card           *social.Profile
	Call           *CallInfo
	SentAt         time.Time
	Recalled       bool
	SenderDeleted  bool
	// Unreadable: the stored message failed its integrity check (or could
	// not be opened just now); nothing of its content is shown, and it is
	// not passed off as recalled or from a deleted account (issue 14 item 9).
	Unreadable bool
	ReplyTo    *Reply
	Mentions   []string
	MentionAll bool
	Forwarded  bool
	History    *History // a merged forward (kind history)
	System     *SystemEvent
	ExpiresAt  time.Time // zero: never
}

// History is a merged forward: the forwarded messages as one readable list.
type History struct {
	Items []HistoryItem `json:"items"`
}

// HistoryItem is one message of a merged forward.
type HistoryItem struct {
	SenderName string    `json:"sender_name"`
	Kind       string    `json:"kind"`
	Text       string    `json:"text,omitempty"`
	SentAt     time.Time `json:"sent_at"`
}

// historyText is a merged forward as plain lines (favorites, search).
func historyText(h History) string {
	var b strings.Builder
	for _, it := range h.Items {
		b.WriteString(it.SenderName + ": " + it.Text + "\n")
	}
	return strings.TrimSpace(b.String())
}

func mediaInfo(mr store.MediaRecord) tkesj.MediaInfo {
	return tkesj.MediaInfo{ID: mr.ID, Kind: mr.Kind, Mime: mr.Mime, Size: mr.Size, Meta: json.RawMessage(mr.Meta)}
}

// Reply is the quote a reply shows of the message it answers: who wrote it,
// its kind and a short preview, or only that it is unavailable (recalled,
// its sender's account destroyed, or before the viewer joined).
type Reply struct {
	Seq         int64
	SenderID    string
	Kind        string
	Preview     string
	Unavailable bool
}

func messageAD(convID, id string) string { return "messages/" + convID + "/" + id }

const maxTextRunes = 5000

func (in *SendInput) validate() error {
	if in.ClientID == "" || len(in.ClientID) > 64 || !utf8.ValidString(in.ClientID) {
		return tkesj.Errorf(tkesj.EInvalid, "invalid_client_id", "client_id is required: 1 to 64 characters chosen by the client, the same on every retry")
	}
	switch in.Kind {
	case KindText:
		in.Text = strings.TrimRight(in.Text, " \t\r\n")
		if in.Text == "" || utf8.RuneCountInString(in.Text) > maxTextRunes || !utf8.ValidString(in.Text) {
			return tkesj.Errorf(tkesj.EInvalid, "invalid_text", "a text message has 1 to %d characters", maxTextRunes)
		}
		if err := validate.Text(in.Text, "the message"); err != nil {
			return err
		}
	case KindImage, KindVideo, KindFile, KindVoice:
		if in.MediaID == "" {
			return tkesj.Errorf(tkesj.EInvalid, "media_required", "a %s message needs a media_id from POST /api/v1/media", in.Kind)
		}
		if utf8.RuneCountInString(in.Text) > 500 {
			return tkesj.Errorf(tkesj.EInvalid, "invalid_text", "a caption has at most 500 characters")
		}
		if err := validate.Text(in.Text, "the caption"); err != nil {
			return err
		}
	case KindLocation:
		l := in.Location
		if l == nil || math.IsNaN(l.Lat) || math.IsNaN(l.Lng) || l.Lat < -90 || l.Lat > 90 || l.Lng < -180 || l.Lng > 180 || utf8.RuneCountInString(l.Name) > 200 {
			return tkesj.Errorf(tkesj.EInvalid, "invalid_location", "a location needs lat in [-90, 90], lng in [-180, 180] and a name of at most 200 characters")
		}
	case KindCard:
		if in.CardUser == "" {
			return tkesj.Errorf(tkesj.EInvalid, "card_required", "a contact card needs card_user: the id of the person to share")
		}
	default:
		return tkesj.Errorf(tkesj.EInvalid, "invalid_kind", "kind must be text, image, video, file, voice, location or card")
	}
	if in.ReplyTo < 0 {
		return tkesj.Errorf(tkesj.EInvalid, "invalid_reply_to", "reply_to is the seq of a message in this conversation")
	}
	if len(in.Mentions) > maxMentions {
		return tkesj.Errorf(tkesj.EInvalid, "invalid_mentions", "a message mentions at most %d people; use mention_all for everyone", maxMentions)
	}
	return nil
}

// maxMentions bounds the people one message names.
const maxMentions = 50

// Send stores a message in a conversation the caller belongs to and fans it
// out (R-MSG-3, R-MSG-4). The seq is taken in the transaction that stores the
// message; the caller is answered after that transaction commits. A repeated
// client_id returns the first message (created=false) and stores nothing.
func (s *Service) Send(ctx context.Context, a kernel.Auth, convID string, in SendInput) (Message, bool, error) {
	if err := in.validate(); err != nil {
		return Message{}, false, err
	}
	q := s.DB.Read()
	// The membership, the conversation and a direct chat's block and
	// friendship: from memory, or in one read (issue 17).
	sc, err := s.sendCheck(ctx, q, convID, a.UserID)
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return Message{}, false, err
		}
		return Message{}, false, s.Internal(ctx, "member", err)
	}
	if err := s.RequireActive(ctx, a); err != nil {
		return Message{}, false, err
	}
	msg, created, err := s.send(ctx, q, a, sc, in)
	if errors.Is(err, errStaleSender) {
		// The cached list the check came from was out of date about the
		// sender: check again from the store, once.
		if sc, err = q.FindSendCheck(ctx, convID, a.UserID); err == nil {
			msg, created, err = s.send(ctx, q, a, sc, in)
		}
		if errors.Is(err, errStaleSender) {
			err = s.Internal(ctx, "send", err)
		}
	}
	if err != nil {
		// A retry of a message that did go through never turns into an
		// error (a rate limit, a block or a permission since): it gets
		// the first message. The common path reads nothing for this: the
		// writer learns of a repeated client_id from the unique index
		// (store.AppendMessage).
		if prev, ferr := q.FindMessageByClientID(ctx, a.UserID, in.ClientID); ferr == nil {
			return s.sameMessage(ctx, prev, convID)
		}
	}
	return msg, created, err
}

// errStaleSender: the member list a send was checked against said
// something else of its sender than the one read with the message.
var errStaleSender = errors.New("messaging: the sender's cached membership is out of date")

// send is Send after the membership and account checks.
func (s *Service) send(ctx context.Context, q *store.Queries, a kernel.Auth, sc store.SendCheck, in SendInput) (Message, bool, error) {
	if ok, wait := s.sends.Allow(a.UserID); !ok {
		return Message{}, false, s.LimitedFor(ctx, a.UserID, "rate_limit:messages", "messages", wait)
	}
	me, conv, convID := sc.Member, sc.Conversation, sc.Conversation.ID
	// A direct chat's members never change, so once its other member is
	// known they are who the message goes to, without a read in the writer.
	var direct []store.FanOutMember
	if conv.Kind == "direct" {
		others := kernel.UniqueOthers(strings.Split(conv.DirectKey.String, "|"), a.UserID)
		if len(others) == 1 && others[0] == sc.PeerID && !sc.Blocked && sc.Friends {
			direct = []store.FanOutMember{{UserID: me.UserID, Role: me.Role, JoinedSeq: me.JoinedSeq}, {UserID: sc.PeerID, Role: "member", JoinedSeq: sc.PeerJoinedSeq}}
		} else {
			// Refused, or not the usual pair: CanMessage's reads say why.
			for _, id := range others {
				if err := s.CanMessage(ctx, q, a.UserID, id); err != nil {
					return Message{}, false, err
				}
			}
		}
	}
	switch in.Kind {
	case KindLocation:
		if err := s.RequirePermission(ctx, a.UserID, tkesj.PermLocation, "sharing a location"); err != nil {
			return Message{}, false, err
		}
	case KindVoice:
		if err := s.RequirePermission(ctx, a.UserID, tkesj.PermMicrophone, "sending a voice message"); err != nil {
			return Message{}, false, err
		}
	}
	var media *tkesj.MediaInfo
	if in.MediaID != "" {
		mr, err := q.FindMedia(ctx, in.MediaID)
		if err != nil || mr.OwnerID != a.UserID {
			return Message{}, false, tkesj.Errorf(tkesj.EInvalid, "invalid_media", "media_id must name a file you uploaded")
		}
		if !mediaFits(in.Kind, mr.Kind) {
			return Message{}, false, tkesj.Errorf(tkesj.EInvalid, "media_kind_mismatch", "that upload is a %s, not a %s", mr.Kind, in.Kind)
		}
		media = &tkesj.MediaInfo{ID: mr.ID, Kind: mr.Kind, Mime: mr.Mime, Size: mr.Size, Meta: json.RawMessage(mr.Meta)}
	}
	mentioned, err := s.checkReplyAndMentions(ctx, me, conv, &in)
	if err != nil {
		return Message{}, false, err
	}
	var card *social.Profile
	if in.Kind == KindCard {
		p, err := s.LookupProfile(ctx, q, in.CardUser)
		if err == nil {
			// Someone who blocked the sender can't be shared by them: the
			// same answer as for nobody (issue 14 item 10).
			if blocked, berr := q.Blocks(ctx, in.CardUser, a.UserID); berr != nil || blocked {
				err = tkesj.ErrNotFound("user")
			}
		}
		if err != nil {
			return Message{}, false, tkesj.Errorf(tkesj.EInvalid, "invalid_card", "card_user must name an existing person")
		}
		card = &p
	}
	// The stores keep microseconds: the first answer carries the sent_at a
	// retry of the client_id (and every later read) gives, to the digit.
	now := s.Now().Truncate(time.Microsecond)
	msg := Message{ID: kernel.NewMessageID(now), ConversationID: convID, SenderID: a.UserID, ClientID: in.ClientID, Kind: in.Kind,
		Text: in.Text, Media: media, Location: in.Location, Card: card, SentAt: now, Mentions: in.Mentions, MentionAll: in.MentionAll}
	if in.ReplyTo > 0 {
		r := s.replyView(ctx, convID, in.ReplyTo)
		msg.ReplyTo = &r
	}
	sealed, err := s.Seal(ctx, a.UserID, messageAD(convID, msg.ID), body{Text: in.Text, MediaID: in.MediaID, Location: in.Location, CardUser: in.CardUser,
		ReplyTo: in.ReplyTo, Mentions: in.Mentions, MentionAll: in.MentionAll})
	if err != nil {
		return Message{}, false, s.Internal(ctx, "send", err)
	}
	var members []store.FanOutMember
	var dup *store.MessageRecord
	rec := store.MessageRecord{ConvID: convID, ID: msg.ID, SenderID: a.UserID, ClientID: in.ClientID, Kind: in.Kind, Body: sealed, SentAt: now}
	if in.MediaID != "" {
		rec.MediaID = sql.NullString{String: in.MediaID, Valid: true}
	}
	// A group's members come from memory when the member version read
	// with the message says the cached list is still the list (issue 17):
	// a removed member then never gets it, nor does a new one miss it,
	// whether or not the bus brought this node the change yet.
	//
	// The sender's role allowed @all and their joined_seq the quote; both
	// may come from a list cached before a change this node has not heard
	// of (R-MSG-2, R-MSG-7). The list the write settles on is the list: the
	// message stands only if it agrees.
	//
	// On PostgreSQL the list read here may also no longer hold the sender:
	// a removal that committed while AppendMessage waited for the
	// conversation's row passes its membership test (evaluated on the
	// statement's older snapshot), and the message would stand after the
	// removal. The list read under that row's lock is the truth.
	sameSender := func(list []store.FanOutMember) error {
		if conv.Kind != "group" {
			return nil
		}
		i := slices.IndexFunc(list, func(m store.FanOutMember) bool { return m.UserID == me.UserID })
		if i < 0 {
			return tkesj.ErrNotFound("conversation")
		}
		if (in.MentionAll || in.ReplyTo > 0) && (list[i].Role != me.Role || list[i].JoinedSeq != me.JoinedSeq) {
			return errStaleSender
		}
		return nil
	}
	gen := s.caches.members.Generation()
	cached, hit := s.caches.members.Get(convID)
	var fresh *memberList
	// The writer stores rec (store.AppendMessage, or on PostgreSQL one
	// AppendMessages for the sends queued together) and then runs this in
	// the same transaction.
	write := func(ctx context.Context, q *store.Queries, stored store.Appended, batched bool) error {
		// The writer may run this twice (store.UpdateBatch): nothing it
		// sets may survive from a first run.
		dup, members, fresh = nil, nil, nil
		if !stored.OK {
			// Nothing stored: a repeated client_id, or no longer a member.
			prev, err := q.FindMessageByClientID(ctx, a.UserID, in.ClientID)
			if err != nil {
				return tkesj.ErrNotFound("conversation")
			}
			dup = &prev
			return nil
		}
		msg.Seq, msg.ExpiresAt = stored.Seq, stored.ExpiresAt
		if err := q.AddMentions(ctx, convID, stored.Seq, mentioned); err != nil {
			return err
		}
		if direct != nil {
			members = direct
			return nil
		}
		if hit {
			v := stored.MemberVersion // read with the seq when batched
			if !batched {
				var err error
				if v, err = q.MemberVersion(ctx, convID); err != nil {
					return err
				}
			}
			if v == cached.version {
				members = cached.members
				if !in.MentionAll && in.ReplyTo <= 0 {
					return nil // the list is current, and the store found the sender in it
				}
				return sameSender(members)
			}
		}
		v, rs, err := q.FanOut(ctx, convID)
		if err != nil {
			return err
		}
		members, fresh = rs, &memberList{version: v, members: rs}
		return sameSender(rs)
	}
	err = s.writer.doAppend(ctx, rec, write)
	if errors.Is(err, store.ErrClientIDRace) {
		err = s.writer.doAppend(ctx, rec, write) // its first attempt has committed: now a retry
	}
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound || errors.Is(err, errStaleSender) {
			return Message{}, false, err
		}
		return Message{}, false, s.Internal(ctx, "send", err)
	}
	if dup != nil {
		return s.sameMessage(ctx, *dup, convID)
	}
	if fresh != nil && conv.Kind == "group" {
		s.caches.members.Add(convID, *fresh, gen)
	}
	s.wakeIndexer()
	s.publishMessage(ctx, msg, members, mentioned)
	s.schedulePush(msg, members, mentioned)
	return msg, true, nil
}

// publishMessage sends a new message's frame to its members: a mentioned
// person's frame says so ("mentioned": true, which reaches them in a muted
// chat too), and someone who joined after the message a reply quotes sees
// the quote as unavailable.
func (s *Service) publishMessage(ctx context.Context, msg Message, members []store.FanOutMember, mentioned []string) {
	isMentioned := make(map[string]bool, len(mentioned))
	for _, id := range mentioned {
		isMentioned[id] = true
	}
	type variant struct{ mentioned, late bool }
	groups := map[variant][]string{}
	for _, m := range members {
		v := variant{mentioned: isMentioned[m.UserID], late: msg.ReplyTo != nil && msg.ReplyTo.Seq <= m.JoinedSeq}
		groups[v] = append(groups[v], m.UserID)
	}
	for v, ids := range groups {
		view := msg
		if v.late {
			view.ReplyTo = &Reply{Seq: msg.ReplyTo.Seq, Unavailable: true}
		}
		s.publishCards(ctx, ids, view, v.mentioned)
	}
}

// checkReplyAndMentions enforces R-MSG-7's rules on a message about to be
// sent by me in conv, and returns who it mentions (every member but the
// sender for mention_all): a quoted seq the sender cannot see (missing,
// before they joined, recalled, from a destroyed account) is not_found;
// a mention of a non-member is 422; mention_all by anyone but a group's
// owner or admins is 403.
func (s *Service) checkReplyAndMentions(ctx context.Context, me store.MemberRecord, conv store.ConversationRecord, in *SendInput) ([]string, error) {
	q := s.DB.Read()
	if in.ReplyTo > 0 {
		orig, err := q.FindMessage(ctx, conv.ID, in.ReplyTo)
		if err != nil || in.ReplyTo <= me.JoinedSeq || orig.Recalled || orig.Body == nil || s.expired(orig) {
			return nil, tkesj.ErrNotFound("message")
		}
		if r := s.replyView(ctx, conv.ID, in.ReplyTo); r.Unavailable {
			return nil, tkesj.ErrNotFound("message")
		}
	}
	if len(in.Mentions) == 0 && !in.MentionAll {
		return nil, nil
	}
	if in.MentionAll {
		if conv.Kind != "group" {
			return nil, tkesj.Errorf(tkesj.EInvalid, "not_a_group", "mention_all is for groups")
		}
		if me.Role != "owner" && me.Role != "admin" {
			return nil, tkesj.Errorf(tkesj.EForbidden, "forbidden", "only the group's owner and admins can mention everyone")
		}
	}
	ids, err := q.MemberIDs(ctx, conv.ID)
	if err != nil {
		return nil, s.Internal(ctx, "send", err)
	}
	member := make(map[string]bool, len(ids))
	for _, id := range ids {
		member[id] = true
	}
	seen := map[string]bool{}
	names := in.Mentions[:0:0]
	for _, id := range in.Mentions {
		if !member[id] {
			return nil, tkesj.Errorf(tkesj.EInvalid, "invalid_mentions", "mentions must name members of this conversation")
		}
		if !seen[id] {
			seen[id] = true
			names = append(names, id)
		}
	}
	in.Mentions = names
	var out []string
	for _, id := range ids {
		if id != me.UserID && (in.MentionAll || seen[id]) {
			out = append(out, id)
		}
	}
	return out, nil
}

// replyView is the quote of message seq of convID, opened with its
// sender's key; anything that makes it unreadable makes it unavailable.
func (s *Service) replyView(ctx context.Context, convID string, seq int64) Reply {
	gone := Reply{Seq: seq, Unavailable: true}
	r, err := s.DB.Read().FindMessage(ctx, convID, seq)
	if err != nil || r.Recalled || r.Body == nil || s.expired(r) {
		return gone
	}
	var b body
	if err := s.Open(ctx, r.SenderID, messageAD(r.ConvID, r.ID), r.Body, &b); err != nil {
		return gone
	}
	return Reply{Seq: seq, SenderID: r.SenderID, Kind: r.Kind, Preview: quotePreview(Message{Kind: r.Kind, Text: b.Text})}
}

// quotePreview is the short line a quote shows.
func quotePreview(m Message) string {
	if m.Kind == KindText || m.Text != "" {
		if utf8.RuneCountInString(m.Text) > 50 {
			return string([]rune(m.Text)[:50]) + "…"
		}
		return m.Text
	}
	return previewOf(m)
}

// insertMessage stores one message inside a writer batch: it takes the
// conversation's next seq (setting msg.Seq), inserts the row with its
// mentions, and marks it read by its sender. Its words are indexed later,
// by the indexer (indexer.go): the caller wakes it after the commit.
func insertMessage(ctx context.Context, q *store.Queries, msg *Message, rec store.MessageRecord, mentioned []string) error {
	seq, after, err := q.NextSeqTimer(ctx, rec.ConvID, rec.SentAt)
	if err != nil {
		return err
	}
	msg.Seq, rec.Seq = seq, seq
	if after > 0 {
		// The timer in force when it is stored (R-MSG-10).
		rec.ExpiresAt = rec.SentAt.Add(after)
		msg.ExpiresAt = rec.ExpiresAt
	}
	if err := q.InsertMessage(ctx, rec); err != nil {
		return err
	}
	if err := q.AddMentions(ctx, rec.ConvID, seq, mentioned); err != nil {
		return err
	}
	// The sender has received and read their own message.
	return q.AdvanceRead(ctx, rec.ConvID, rec.SenderID, seq)
}

// publishCards sends msg's frame to members; a contact card's frame to a
// member the card's person blocks carries only the card's id (issue 14 item
// 10).
func (s *Service) publishCards(ctx context.Context, members []string, msg Message, mentioned bool) {
	if msg.Card == nil {
		s.Publish(ctx, members, wire.MessageFrame{Type: "message", ConversationID: msg.ConversationID, Message: MessageJSON(msg), Mentioned: mentioned})
		return
	}
	var open, blocked []string
	for _, m := range members {
		if b, err := s.DB.Read().Blocks(ctx, msg.Card.ID, m); (err != nil || b) && m != msg.Card.ID {
			blocked = append(blocked, m)
		} else {
			open = append(open, m)
		}
	}
	s.Publish(ctx, open, wire.MessageFrame{Type: "message", ConversationID: msg.ConversationID, Message: MessageJSON(msg), Mentioned: mentioned})
	if len(blocked) > 0 {
		redacted := msg
		redacted.Card = &social.Profile{ID: msg.Card.ID}
		s.Publish(ctx, blocked, wire.MessageFrame{Type: "message", ConversationID: msg.ConversationID, Message: MessageJSON(redacted), Mentioned: mentioned})
	}
}

// RedactCards leaves only the id on the contact cards, in msgs, of people
// who block viewer: a card must not hand their username and nickname to
// someone they blocked (issue 14 item 10).
func (s *Service) RedactCards(ctx context.Context, q *store.Queries, viewer string, msgs []Message) {
	for i, m := range msgs {
		if m.Card == nil || m.Card.ID == viewer {
			continue
		}
		if blocked, err := q.Blocks(ctx, m.Card.ID, viewer); err != nil || blocked {
			msgs[i].Card = &social.Profile{ID: m.Card.ID}
		}
	}
}

// AppendCallRecord stores the record of an ended call in its conversation
// as a message of kind "call" from the caller, and fans it out like any
// message; pushes are not sent for it (the call itself rang). The calls
// package calls it once per call. It is kept, exported and erased with the
// caller's other messages.
func (s *Service) AppendCallRecord(ctx context.Context, senderID, convID string, info CallInfo) error {
	now := s.Now()
	msg := Message{ID: kernel.NewMessageID(now), ConversationID: convID, SenderID: senderID, ClientID: "call:" + info.CallID, Kind: KindCall, Call: &info, SentAt: now}
	sealed, err := s.Seal(ctx, senderID, messageAD(convID, msg.ID), body{Call: &info})
	if err != nil {
		return s.Internal(ctx, "call record", err)
	}
	var members []string
	err = s.writer.do(ctx, convID, func(ctx context.Context, q *store.Queries) error {
		if _, err := q.FindMessageByClientID(ctx, senderID, msg.ClientID); err == nil {
			return nil // already recorded
		}
		// insertMessage: a call record follows the chat's disappearing
		// timer like any message (R-MSG-10).
		rec := store.MessageRecord{ConvID: convID, ID: msg.ID, SenderID: senderID, ClientID: msg.ClientID, Kind: KindCall, Body: sealed, SentAt: now}
		if err := insertMessage(ctx, q, &msg, rec, nil); err != nil {
			return err
		}
		var err error
		members, err = q.MemberIDs(ctx, convID)
		return err
	})
	if err != nil {
		return s.Internal(ctx, "call record", err)
	}
	s.Publish(ctx, members, wire.MessageFrame{Type: "message", ConversationID: convID, Message: MessageJSON(msg)})
	return nil
}

// sameMessage answers a retried client_id with the message it first made.
func (s *Service) sameMessage(ctx context.Context, prev store.MessageRecord, convID string) (Message, bool, error) {
	if prev.ConvID != convID {
		return Message{}, false, tkesj.Errorf(tkesj.EConflict, "client_id_reused", "this client_id was used for a message in another conversation; use a new one")
	}
	return s.MessageView(ctx, prev), false, nil
}

func mediaFits(msgKind, mediaKind string) bool {
	switch msgKind {
	case KindFile:
		return true // anything may be sent as a file
	case KindVoice:
		return mediaKind == "voice"
	}
	return msgKind == mediaKind
}

// MessageView opens a stored message for display. A message whose sender's
// key is destroyed shows as from a deleted account, with nothing of its content.
func (s *Service) MessageView(ctx context.Context, r store.MessageRecord) Message {
	m := Message{ID: r.ID, ConversationID: r.ConvID, Seq: r.Seq, SenderID: r.SenderID, ClientID: r.ClientID, Kind: r.Kind, SentAt: r.SentAt, Recalled: r.Recalled,
		ExpiresAt: r.ExpiresAt}
	deleted := Message{ID: r.ID, ConversationID: r.ConvID, Seq: r.Seq, SentAt: r.SentAt, SenderDeleted: true, ExpiresAt: r.ExpiresAt}
	if r.Recalled || r.Body == nil {
		// Without a body there is nothing to fail to decrypt: ask the key
		// store whether the sender still exists (recalled messages are rare).
		if gone, err := s.Keys.Exists(ctx, r.SenderID); !r.Recalled || (err == nil && !gone) {
			return deleted
		}
		return m
	}
	var b body
	if err := s.Open(ctx, r.SenderID, messageAD(r.ConvID, r.ID), r.Body, &b); err != nil {
		if errors.Is(err, keyring.ErrShredded) {
			return deleted
		}
		// Damaged (kernel.ErrIntegrity: counted and logged there) or not
		// readable just now: either way not a deleted account.
		if !errors.Is(err, kernel.ErrIntegrity) {
			s.Log.WarnContext(ctx, "message unreadable", "message", r.ID, "err", err.Error())
		}
		return Message{ID: r.ID, ConversationID: r.ConvID, Seq: r.Seq, SenderID: r.SenderID, Kind: r.Kind, SentAt: r.SentAt, Unreadable: true}
	}
	m.Text, m.Location, m.Call = b.Text, b.Location, b.Call
	m.Mentions, m.MentionAll, m.Forwarded, m.History, m.System = b.Mentions, b.MentionAll, b.Forwarded, b.History, b.System
	if b.ReplyTo > 0 {
		r := s.replyView(ctx, r.ConvID, b.ReplyTo)
		m.ReplyTo = &r
	}
	if b.MediaID != "" {
		if mr, err := s.DB.Read().FindMedia(ctx, b.MediaID); err == nil {
			m.Media = &tkesj.MediaInfo{ID: mr.ID, Kind: mr.Kind, Mime: mr.Mime, Size: mr.Size, Meta: json.RawMessage(mr.Meta)}
		}
	}
	if b.CardUser != "" {
		if p, err := s.LookupProfile(ctx, s.DB.Read(), b.CardUser); err == nil || p.Unreadable {
			m.Card = &p
		}
	}
	return m
}

// MessageJSON is the wire form of a message (API.md).
func MessageJSON(m Message) wire.Message {
	j := wire.Message{ID: m.ID, Seq: m.Seq, ConversationID: m.ConversationID, SentAt: m.SentAt.Format(time.RFC3339Nano)}
	if !m.ExpiresAt.IsZero() {
		j.ExpiresAt = m.ExpiresAt.Format(time.RFC3339Nano)
	}
	if m.SenderDeleted {
		j.SenderDeleted = true
		return j
	}
	j.SenderID, j.ClientID, j.Kind = m.SenderID, m.ClientID, m.Kind
	if m.Unreadable {
		j.Unreadable = true
		return j
	}
	if m.Recalled {
		j.Recalled = true
		return j
	}
	if m.Text != "" || m.Kind == KindText {
		j.Text = &m.Text
	}
	if m.Media != nil {
		media := &wire.MessageMedia{ID: m.Media.ID, Kind: m.Media.Kind, Mime: m.Media.Mime, Size: m.Media.Size, URL: "/api/v1/media/" + m.Media.ID}
		if len(m.Media.Meta) > 0 && string(m.Media.Meta) != "{}" {
			media.Meta = m.Media.Meta
		}
		j.MediaID = m.Media.ID
		j.Media = media
	}
	if m.Location != nil {
		j.Location = &wire.Location{Lat: m.Location.Lat, Lng: m.Location.Lng, Name: m.Location.Name}
	}
	if m.Call != nil {
		j.Call = &wire.MessageCall{CallID: m.Call.CallID, Media: m.Call.Media, State: m.Call.State, DurationS: m.Call.DurationS, Reason: m.Call.Reason}
	}
	if m.Card != nil {
		j.Card = &wire.Card{ID: m.Card.ID, Username: m.Card.Username, Nickname: m.Card.Nickname}
	}
	if r := m.ReplyTo; r != nil {
		if r.Unavailable {
			j.ReplyTo = &wire.ReplyTo{Seq: r.Seq, Unavailable: true}
		} else {
			j.ReplyTo = &wire.ReplyTo{Seq: r.Seq, SenderID: r.SenderID, Kind: r.Kind, Preview: &r.Preview}
		}
	}
	j.Mentions, j.MentionAll, j.Forwarded = m.Mentions, m.MentionAll, m.Forwarded
	if m.System != nil {
		j.System = &wire.SystemEvent{Event: m.System.Event, DisappearAfterS: m.System.DisappearAfterS}
	}
	if m.History != nil {
		h := &wire.History{Items: make([]wire.HistoryItem, 0, len(m.History.Items))}
		for _, it := range m.History.Items {
			h.Items = append(h.Items, wire.HistoryItem{SenderName: it.SenderName, Kind: it.Kind, Text: it.Text, SentAt: it.SentAt.Format(time.RFC3339Nano)})
		}
		j.History = h
	}
	return j
}

// Messages returns a page of a conversation for a member, ascending by seq:
// after afterSeq, or (with beforeSeq) the newest page below it. A member sees
// only what was sent after they joined, minus what they deleted for themselves.
func (s *Service) Messages(ctx context.Context, a kernel.Auth, convID string, afterSeq, beforeSeq int64, limit int) ([]Message, error) {
	q := s.DB.Read()
	m, err := s.Member(ctx, q, a, convID)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 50
	}
	if limit > 100 {
		limit = 100
	}
	if afterSeq < m.JoinedSeq {
		afterSeq = m.JoinedSeq
	}
	recs, err := q.Messages(ctx, store.MessageFilter{ConvID: convID, ViewerID: a.UserID, AfterSeq: afterSeq, BeforeSeq: beforeSeq, Limit: limit, Newest: beforeSeq > 0, LiveAt: s.Now()})
	if err != nil {
		return nil, s.Internal(ctx, "messages", err)
	}
	out := make([]Message, 0, len(recs))
	for _, r := range recs {
		v := s.MessageView(ctx, r)
		if v.ReplyTo != nil && v.ReplyTo.Seq <= m.JoinedSeq {
			v.ReplyTo = &Reply{Seq: v.ReplyTo.Seq, Unavailable: true}
		}
		out = append(out, v)
	}
	s.RedactCards(ctx, q, a.UserID, out)
	return out, nil
}

// Recall takes back one's own message within the recall window (R-MSG-5):
// its body is deleted and every member is told.
func (s *Service) Recall(ctx context.Context, a kernel.Auth, convID string, seq int64) error {
	err := s.writer.do(ctx, convID, func(ctx context.Context, q *store.Queries) error {
		if _, err := q.FindMember(ctx, convID, a.UserID); err != nil {
			return err
		}
		m, err := q.FindMessage(ctx, convID, seq)
		if err != nil {
			return err
		}
		if s.expired(m) {
			return tkesj.ErrNotFound("message")
		}
		if m.SenderID != a.UserID {
			return tkesj.Errorf(tkesj.EForbidden, "forbidden", "you can recall only your own messages")
		}
		if m.Recalled {
			return nil
		}
		if s.Now().Sub(m.SentAt) > s.Cfg.RecallWindow {
			return tkesj.Errorf(tkesj.EConflict, "recall_window_passed", "messages can be recalled within %s of sending", s.Cfg.RecallWindow)
		}
		// The row first: on PostgreSQL an indexer pass holding the message
		// (store.IndexMessages) is waited for here, so the delete below
		// sees the tokens it wrote.
		if err := q.RecallMessage(ctx, convID, seq); err != nil {
			return err
		}
		if err := q.UnindexMessage(ctx, convID, seq); err != nil {
			return err
		}
		return q.DeleteMentions(ctx, convID, seq)
	})
	if err != nil {
		return s.Internal(ctx, "recall", err)
	}
	s.wakeIndexer() // SQLite: the index file's rows go with its next pass
	s.PublishToMembers(ctx, convID, wire.RecallFrame{Type: "recall", ConversationID: convID, Seq: seq})
	return nil
}

// DeleteForMe hides one message from the caller only (R-MSG-5, R-DEL-1).
func (s *Service) DeleteForMe(ctx context.Context, a kernel.Auth, convID string, seq int64) error {
	m, err := s.Member(ctx, s.DB.Read(), a, convID)
	if err != nil {
		return err
	}
	if _, err := s.DB.Read().FindMessage(ctx, convID, seq); err != nil || seq <= m.JoinedSeq {
		return tkesj.ErrNotFound("message")
	}
	if err := s.writer.do(ctx, convID, func(ctx context.Context, q *store.Queries) error { return q.HideMessage(ctx, a.UserID, convID, seq) }); err != nil {
		return s.Internal(ctx, "delete for me", err)
	}
	return nil
}

// MarkRead moves the caller's read position (R-MSG-5); in a direct chat the
// other person gets a read receipt.
func (s *Service) MarkRead(ctx context.Context, a kernel.Auth, convID string, seq int64) error {
	return s.advance(ctx, a, convID, seq, true)
}

// advance records a delivered (ack) or read position and sends the receipt.
func (s *Service) advance(ctx context.Context, a kernel.Auth, convID string, seq int64, read bool) error {
	q := s.DB.Read()
	m, err := s.Member(ctx, q, a, convID)
	if err != nil {
		return err
	}
	if seq <= 0 {
		return tkesj.Errorf(tkesj.EInvalid, "invalid_seq", "seq must be a positive message number")
	}
	if (read && seq <= m.ReadSeq) || (!read && seq <= m.ReceivedSeq) {
		return nil
	}
	err = s.writer.do(ctx, convID, func(ctx context.Context, q *store.Queries) error {
		if read {
			return q.AdvanceRead(ctx, convID, a.UserID, seq)
		}
		return q.AdvanceReceived(ctx, convID, a.UserID, seq)
	})
	if err != nil {
		return s.Internal(ctx, "advance", err)
	}
	conv, err := q.FindConversation(ctx, convID)
	if err != nil || conv.Kind != "direct" {
		return nil
	}
	if seq > conv.LastSeq {
		seq = conv.LastSeq
	}
	frame := wire.ReceiptFrame{Type: "receipt", ConversationID: convID, UserID: a.UserID, DeliveredSeq: &seq}
	if read {
		frame.DeliveredSeq, frame.ReadSeq = nil, &seq
	}
	s.Publish(ctx, strings.Split(conv.DirectKey.String, "|"), frame)
	return nil
}

// Typing tells the other members that the caller is typing (R-MSG-5).
func (s *Service) Typing(ctx context.Context, a kernel.Auth, convID string) error {
	q := s.DB.Read()
	if _, err := s.Member(ctx, q, a, convID); err != nil {
		return err
	}
	ids, err := q.MemberIDs(ctx, convID)
	if err != nil {
		return s.Internal(ctx, "typing", err)
	}
	others := ids[:0]
	for _, id := range ids {
		if id != a.UserID {
			others = append(others, id)
		}
	}
	s.Publish(ctx, others, wire.TypingFrame{Type: "typing", ConversationID: convID, UserID: a.UserID})
	return nil
}
