package messaging

import (
	"context"
	"database/sql"
	"slices"
	"strings"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// Forwarding (R-MSG-8): messages of one conversation go to one or more
// others, each as its own message or merged into one "chat history". The
// forwarder must see every message forwarded and be a member of every
// target; the new messages are theirs (sealed with their key), and media
// goes as their own copy, made on the server: nothing is uploaded again
// and the copy stays when the original goes.

// Forward limits: a forward is one person's action in one batch per
// target, so both ends are bounded.
const (
	maxForwardSeqs    = 100
	maxForwardTargets = 20
)

// ForwardInput is a forward (API.md POST /api/v1/forwards).
type ForwardInput struct {
	From    string  // the source conversation
	Seqs    []int64 // the messages to forward
	To      []string
	Merged  bool
	RawMode string // "each" or "merged"
}

// ForwardedMessage names a message a forward made.
type ForwardedMessage struct {
	ConversationID, ID string
	Seq                int64
}

// Forward forwards messages and returns the messages made, in target order.
// Anything the forwarder cannot see or is not a member of is not_found and
// nothing is sent; too many seqs or targets is 422.
func (s *Service) Forward(ctx context.Context, a kernel.Auth, in ForwardInput) ([]ForwardedMessage, error) {
	switch in.RawMode {
	case "each", "":
	case "merged":
		in.Merged = true
	default:
		return nil, tkesj.Errorf(tkesj.EInvalid, "invalid_mode", `mode is "each" or "merged"`)
	}
	if len(in.Seqs) > 10*maxForwardSeqs || len(in.To) > 10*maxForwardTargets {
		return nil, tkesj.Errorf(tkesj.EInvalid, "too_many_targets", "forward 1 to %d messages to 1 to %d chats at once", maxForwardSeqs, maxForwardTargets)
	}
	seqs := uniqueSeqs(in.Seqs)
	targets := kernel.UniqueOthers(in.To, "")
	switch {
	case len(seqs) == 0 || len(seqs) > maxForwardSeqs:
		return nil, tkesj.Errorf(tkesj.EInvalid, "invalid_seqs", "forward 1 to %d messages at once", maxForwardSeqs)
	case len(targets) == 0 || len(targets) > maxForwardTargets:
		return nil, tkesj.Errorf(tkesj.EInvalid, "too_many_targets", "forward to 1 to %d chats at once", maxForwardTargets)
	}
	if err := s.RequireActive(ctx, a); err != nil {
		return nil, err
	}
	q := s.DB.Read()
	// The sources: every one visible to the forwarder, or nothing happens.
	var msgs []Message
	for _, seq := range seqs {
		m, err := s.visibleMessage(ctx, a, in.From, seq)
		if err != nil {
			return nil, err
		}
		// A card of someone who blocked the forwarder can't be shared
		// by them, forwarded or not: Send's answer (issue 14 item 10).
		if m.Card != nil {
			if blocked, err := q.Blocks(ctx, m.Card.ID, a.UserID); err != nil || blocked {
				return nil, tkesj.Errorf(tkesj.EInvalid, "invalid_card", "card_user must name an existing person")
			}
		}
		msgs = append(msgs, m)
	}
	// The targets: a member of each, and allowed to write there.
	for _, id := range targets {
		if _, err := s.Member(ctx, q, a, id); err != nil {
			return nil, err
		}
		conv, err := q.FindConversation(ctx, id)
		if err != nil {
			return nil, s.Internal(ctx, "forward", err)
		}
		if conv.Kind == "direct" {
			for _, peer := range splitDirect(conv.DirectKey.String) {
				if peer != a.UserID {
					if err := s.CanMessage(ctx, q, a.UserID, peer); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	if ok, wait := s.sends.Allow(a.UserID); !ok {
		return nil, s.LimitedFor(ctx, a.UserID, "rate_limit:messages", "messages", wait)
	}
	// The forwarder's own copies of the media, one per source message
	// (shared by every target's message: each is the forwarder's).
	var bodies []body
	var media []string
	if in.Merged {
		h := &History{}
		for _, m := range msgs {
			name := ""
			if p, err := s.LookupProfile(ctx, q, m.SenderID); err == nil {
				name = p.Nickname
			}
			text := m.Text
			if m.History != nil {
				text = historyText(*m.History)
			}
			h.Items = append(h.Items, HistoryItem{SenderName: name, Kind: m.Kind, Text: text, SentAt: m.SentAt})
		}
		bodies = []body{{History: h, Forwarded: true}}
	} else {
		for _, m := range msgs {
			b := body{Text: m.Text, Location: m.Location, Forwarded: true, History: m.History}
			if m.Card != nil {
				b.CardUser = m.Card.ID
			}
			if m.Media != nil {
				cp, err := s.copyAll(ctx, []string{m.Media.ID}, a.UserID)
				if err != nil {
					s.deleteMediaCopies(ctx, media)
					return nil, s.Internal(ctx, "forward", err)
				}
				b.MediaID = cp[0]
				media = append(media, cp[0])
			}
			bodies = append(bodies, b)
		}
	}
	var out []ForwardedMessage
	for _, target := range targets {
		made, err := s.forwardTo(ctx, a, target, msgs, bodies, in.Merged)
		if err != nil {
			if len(out) == 0 {
				s.deleteMediaCopies(ctx, media)
			}
			if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
				return nil, err
			}
			return nil, s.Internal(ctx, "forward", err)
		}
		out = append(out, made...)
	}
	return out, nil
}

// forwardTo stores one target's forwarded messages in one writer batch and
// fans them out.
func (s *Service) forwardTo(ctx context.Context, a kernel.Auth, convID string, srcs []Message, bodies []body, merged bool) ([]ForwardedMessage, error) {
	now := s.Now()
	type pending struct {
		msg Message
		rec store.MessageRecord
	}
	var ps []pending
	for i, b := range bodies {
		kind := KindHistory
		if !merged {
			kind = srcs[i].Kind
		}
		id := kernel.NewMessageID(now)
		sealed, err := s.Seal(ctx, a.UserID, messageAD(convID, id), b)
		if err != nil {
			return nil, err
		}
		rec := store.MessageRecord{ConvID: convID, ID: id, SenderID: a.UserID, ClientID: "fwd:" + id, Kind: kind, Body: sealed, SentAt: now}
		if b.MediaID != "" {
			rec.MediaID = sql.NullString{String: b.MediaID, Valid: true}
		}
		msg := Message{ID: id, ConversationID: convID, SenderID: a.UserID, ClientID: rec.ClientID, Kind: kind, Text: b.Text, Location: b.Location,
			SentAt: now, Forwarded: true, History: b.History}
		if !merged {
			msg.Media, msg.Card = srcs[i].Media, srcs[i].Card
			if b.MediaID != "" {
				if mr, err := s.DB.Read().FindMedia(ctx, b.MediaID); err == nil {
					mi := mediaInfo(mr)
					msg.Media = &mi
				}
			}
		}
		ps = append(ps, pending{msg: msg, rec: rec})
	}
	var members []store.FanOutMember
	err := s.writer.do(ctx, convID, func(ctx context.Context, q *store.Queries) error {
		if _, err := q.FindMember(ctx, convID, a.UserID); err != nil {
			return err
		}
		for i := range ps {
			if err := insertMessage(ctx, q, &ps[i].msg, ps[i].rec, nil); err != nil {
				return err
			}
		}
		var err error
		_, members, err = q.FanOut(ctx, convID)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.wakeIndexer()
	out := make([]ForwardedMessage, 0, len(ps))
	for _, p := range ps {
		s.publishMessage(ctx, p.msg, members, nil)
		s.schedulePush(p.msg, members, nil)
		out = append(out, ForwardedMessage{ConversationID: convID, ID: p.msg.ID, Seq: p.msg.Seq})
	}
	return out, nil
}

func splitDirect(key string) []string { return strings.Split(key, "|") }

func uniqueSeqs(in []int64) []int64 {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
