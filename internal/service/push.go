package service

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/tkesj/tkesj/internal/push"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

func pushAD(userID string, deviceIdx []byte) string {
	return "push/" + userID + "/" + hex.EncodeToString(deviceIdx)
}

// SetPushSubscription stores the caller's device's Web Push subscription
// (R-NTF-1): an https endpoint on a public host, unless Config.PushAllowHosts
// lists it (R-SEC-5).
func (s *Service) SetPushSubscription(ctx context.Context, a Auth, sub push.Subscription) error {
	if err := sub.ValidateAllowing(s.cfg.PushAllowHosts); err != nil {
		return err
	}
	sealed, err := s.seal(ctx, a.UserID, pushAD(a.UserID, a.DeviceIdx), sub)
	if err != nil {
		return s.internal(ctx, "push subscription", err)
	}
	rec := store.PushSubscriptionRecord{UserID: a.UserID, DeviceIdx: a.DeviceIdx, Sealed: sealed, CreatedAt: s.now()}
	if err := s.db.Update(ctx, func(q *store.Queries) error { return q.PutPushSubscription(ctx, rec) }); err != nil {
		return s.internal(ctx, "push subscription", err)
	}
	return nil
}

// DeletePushSubscription stops pushes to the caller's device.
func (s *Service) DeletePushSubscription(ctx context.Context, a Auth) error {
	if err := s.db.Update(ctx, func(q *store.Queries) error { return q.DeletePushSubscription(ctx, a.UserID, a.DeviceIdx) }); err != nil {
		return s.internal(ctx, "push subscription", err)
	}
	return nil
}

// deletePushSubscriptions removes every push subscription of a person.
func (s *Service) deletePushSubscriptions(ctx context.Context, userID string) error {
	err := s.db.Update(ctx, func(q *store.Queries) error {
		subs, err := q.PushSubscriptions(ctx, userID)
		if err != nil {
			return err
		}
		for _, r := range subs {
			if err := q.DeletePushSubscription(ctx, userID, r.DeviceIdx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.internal(ctx, "push subscriptions", err)
	}
	return nil
}

// schedulePush arranges, PushDelay after a message committed, a push to every
// member for whom no device has acknowledged it: people online anywhere, on
// any node, have acked by then and get none. It never delays the send.
func (s *Service) schedulePush(msg Message, senderName string) {
	if s.pusher == nil {
		return
	}
	time.AfterFunc(s.cfg.PushDelay, func() {
		select {
		case s.pushSlots <- struct{}{}:
		default:
			s.log.Warn("push skipped: too many in flight", "message", msg.ID)
			return
		}
		defer func() { <-s.pushSlots }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.pushMessage(ctx, msg, senderName)
	})
}

// pushMessage notifies the members who have not received msg, honouring each
// one's "Notification and Sound" settings (R-NTF-2): push off, the
// conversation muted, and whether previews show the text (off by default:
// then the push says only who wrote).
func (s *Service) pushMessage(ctx context.Context, msg Message, senderName string) {
	q := s.db.Read()
	ids, err := q.UnreceivedMembers(ctx, msg.ConversationID, msg.Seq, msg.SenderID)
	if err != nil {
		s.log.WarnContext(ctx, "push members", "err", err.Error())
		return
	}
	for _, uid := range ids {
		st, err := s.settings(ctx, q, uid)
		if err != nil || !st.PushEnabled {
			continue
		}
		subs, err := q.PushSubscriptions(ctx, uid)
		if err != nil || len(subs) == 0 {
			continue
		}
		// preview tells the client whether body is the message's text; without
		// it the client may word "sent you a message" in the person's language.
		body := "sent you a message"
		if st.PushShowText {
			body = previewOf(msg)
		}
		payload, _ := json.Marshal(wire.PushPayload{Type: "message", ConversationID: msg.ConversationID, Seq: msg.Seq, Title: senderName, Body: body, Preview: st.PushShowText})
		for _, r := range subs {
			var sub push.Subscription
			if err := s.open(ctx, uid, pushAD(uid, r.DeviceIdx), r.Sealed, &sub); err != nil {
				continue
			}
			err := s.pusher.Send(ctx, sub, payload, 24*time.Hour)
			switch {
			case errors.Is(err, push.ErrGone):
				err := s.db.Update(ctx, func(q *store.Queries) error { return q.DeletePushSubscription(ctx, uid, r.DeviceIdx) })
				s.log.InfoContext(ctx, "push subscription dropped", "user", uid, "ok", err == nil)
			case err != nil:
				s.log.WarnContext(ctx, "push", "user", uid, "err", err.Error())
			default:
				s.pushesSent.Add(1)
			}
		}
	}
}

// previewOf is what a notification may show of a message.
func previewOf(m Message) string {
	switch m.Kind {
	case KindText:
		if utf8.RuneCountInString(m.Text) > 80 {
			return string([]rune(m.Text)[:80]) + "…"
		}
		return m.Text
	case KindImage:
		return "[picture]"
	case KindVideo:
		return "[video]"
	case KindVoice:
		return "[voice message]"
	case KindFile:
		return "[file]"
	case KindLocation:
		return "[location]"
	case KindCall:
		return "[call]"
	}
	return "[contact card]"
}

// PushCall tells a person with no socket that someone is calling them, on
// every device with a push subscription, unless they turned pushes off or
// muted the conversation (R-NTF-2). The push says only who is calling.
func (s *Service) PushCall(ctx context.Context, userID string, payload map[string]any) {
	if s.pusher == nil {
		return
	}
	q := s.db.Read()
	st, err := s.settings(ctx, q, userID)
	if err != nil || !st.PushEnabled {
		return
	}
	if conv, _ := payload["conversation_id"].(string); conv != "" {
		if m, err := q.FindMember(ctx, conv, userID); err != nil || m.Muted {
			return
		}
	}
	if caller, _ := payload["caller_id"].(string); caller != "" {
		if p, err := s.profile(ctx, q, caller); err == nil {
			payload["title"] = p.Nickname
		}
	}
	payload["body"] = "is calling you"
	b, _ := json.Marshal(payload)
	subs, err := q.PushSubscriptions(ctx, userID)
	if err != nil {
		return
	}
	for _, r := range subs {
		var sub push.Subscription
		if err := s.open(ctx, userID, pushAD(userID, r.DeviceIdx), r.Sealed, &sub); err != nil {
			continue
		}
		// A call is worth nothing a minute later: a short TTL.
		if err := s.pusher.Send(ctx, sub, b, time.Minute); err == nil {
			s.pushesSent.Add(1)
		} else if errors.Is(err, push.ErrGone) {
			s.db.Update(ctx, func(q *store.Queries) error { return q.DeletePushSubscription(ctx, userID, r.DeviceIdx) })
		}
	}
}

// PushesSent counts pushes accepted by push services (a metric).
func (s *Service) PushesSent() uint64 { return s.pushesSent.Load() }

// SetPushProvider wires the push provider (nil: no pushes).
func (s *Service) SetPushProvider(p push.Provider) { s.pusher = p }
