package messaging

import (
	"context"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Disappearing messages (R-MSG-10): a conversation's timer (off, 1 day, 7
// days, 30 days) gives every message stored under it an expiry. From that
// moment the message is gone from every API (lists, search, mentions,
// quotes, favorites, forwards, export), and the sweeper deletes it with its
// index rows and media within ExpirySweep, then makes SQLite drop the
// deleted bytes from disk (secure_delete and a WAL truncation).

// KindSystem is a message the service writes: who changed the timer.
const KindSystem = "system"

// disappearChoices are the timers people may choose (seconds).
var disappearChoices = map[int64]bool{0: true, 86400: true, 7 * 86400: true, 30 * 86400: true}

// SystemEvent is what a system message says.
type SystemEvent struct {
	Event           string `json:"event"` // disappear_after_changed
	DisappearAfterS int64  `json:"disappear_after_s"`
}

// expired reports whether a message's disappearing timer has run out; it
// is then gone from every API even before the sweeper deletes it.
func (s *Service) expired(r store.MessageRecord) bool {
	return !r.ExpiresAt.IsZero() && !s.Now().Before(r.ExpiresAt)
}

// SetDisappearing sets a conversation's disappearing-messages timer: any
// member of a direct chat, a group's owner or admins. A system message
// says who changed it to what; setting the timer in force changes nothing.
func (s *Service) SetDisappearing(ctx context.Context, a kernel.Auth, convID string, seconds int64) (Conversation, error) {
	q := s.DB.Read()
	me, err := s.Member(ctx, q, a, convID)
	if err != nil {
		return Conversation{}, err
	}
	if !disappearChoices[seconds] {
		return Conversation{}, tkesj.Errorf(tkesj.EInvalid, "invalid_disappear_after", "disappear_after_s is 0 (off), 86400 (1 day), 604800 (7 days) or 2592000 (30 days)")
	}
	if err := s.RequireActive(ctx, a); err != nil {
		return Conversation{}, err
	}
	conv, err := q.FindConversation(ctx, convID)
	if err != nil {
		return Conversation{}, s.Internal(ctx, "disappearing", err)
	}
	if conv.Kind == "group" && me.Role != "owner" && me.Role != "admin" {
		return Conversation{}, tkesj.Errorf(tkesj.EForbidden, "forbidden", "only the group's owner and admins can change disappearing messages")
	}
	after := time.Duration(seconds) * time.Second
	if conv.DisappearAfter == after {
		return s.Conversation(ctx, a, convID)
	}
	now := s.Now()
	msg := Message{ID: kernel.NewMessageID(now), ConversationID: convID, SenderID: a.UserID, Kind: KindSystem, SentAt: now,
		System: &SystemEvent{Event: "disappear_after_changed", DisappearAfterS: seconds}}
	msg.ClientID = "sys:" + msg.ID
	sealed, err := s.Seal(ctx, a.UserID, messageAD(convID, msg.ID), body{System: msg.System})
	if err != nil {
		return Conversation{}, s.Internal(ctx, "disappearing", err)
	}
	var members []store.FanOutMember
	err = s.writer.do(ctx, convID, func(ctx context.Context, q *store.Queries) error {
		if _, err := q.FindMember(ctx, convID, a.UserID); err != nil {
			return err
		}
		if err := q.SetDisappearing(ctx, convID, after); err != nil {
			return err
		}
		rec := store.MessageRecord{ConvID: convID, ID: msg.ID, SenderID: a.UserID, ClientID: msg.ClientID, Kind: KindSystem, Body: sealed, SentAt: now}
		if err := insertMessage(ctx, q, &msg, rec, nil); err != nil {
			return err
		}
		_, members, err = q.FanOut(ctx, convID)
		return err
	})
	if err != nil {
		return Conversation{}, s.Internal(ctx, "disappearing", err)
	}
	s.publishMessage(ctx, msg, members, nil)
	s.PublishToMembers(ctx, convID, wire.ConversationFrame{Type: "conversation", ConversationID: convID, Event: "updated"})
	return s.Conversation(ctx, a, convID)
}

// expiryBatch bounds one sweep transaction.
const expiryBatch = 200

// runExpiry deletes expired messages every ExpirySweep until ctx ends.
func (s *Service) runExpiry(ctx context.Context) {
	t := time.NewTicker(s.Cfg.ExpirySweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.SweepExpired(ctx, s.Now()); err != nil && ctx.Err() == nil {
				s.Log.WarnContext(ctx, "expiry sweep", "err", err.Error())
			}
		}
	}
}

// SweepExpired deletes every message expired by now (in batches), its index
// rows, mentions and any media nothing else carries, then reclaims the
// deleted bytes. It returns how many messages went.
func (s *Service) SweepExpired(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		recs, err := s.DB.Read().ExpiredMessages(ctx, now, expiryBatch)
		if err != nil || len(recs) == 0 {
			return total, err
		}
		// One write per conversation, through that conversation's writer
		// (with several, a write must not hold rows of others' chats).
		byConv := map[string][]store.MessageRecord{}
		for _, r := range recs {
			byConv[r.ConvID] = append(byConv[r.ConvID], r)
		}
		var media []string
		for convID, recs := range byConv {
			var got []string
			err = s.writer.do(ctx, convID, func(ctx context.Context, q *store.Queries) error {
				got = got[:0] // the writer may run this twice (store.UpdateBatch)
				for _, r := range recs {
					if err := q.DeleteMessage(ctx, r.ConvID, r.Seq); err != nil {
						return err
					}
					if r.MediaID.Valid {
						got = append(got, r.MediaID.String)
					}
				}
				return nil
			})
			if err != nil {
				return total, err
			}
			media = append(media, got...)
		}
		total += int64(len(recs))
		for _, id := range media {
			if used, err := s.DB.Read().MediaReferenced(ctx, id); err == nil && !used {
				s.deleteMediaCopies(ctx, []string{id})
			}
		}
		// SQLite: their words leave the index file before its log is
		// truncated too.
		if err := s.drainUnindex(ctx); err != nil {
			s.Log.WarnContext(ctx, "un-index after expiry", "err", err.Error())
		}
		if err := s.DB.Reclaim(ctx); err != nil {
			s.Log.WarnContext(ctx, "reclaim after expiry", "err", err.Error())
		}
		if len(recs) < expiryBatch {
			return total, nil
		}
	}
}
