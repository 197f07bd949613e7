package messaging

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tkesj/tkesj/internal/kernel"
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
func (s *Service) SetPushSubscription(ctx context.Context, a kernel.Auth, sub push.Subscription) error {
	if err := sub.ValidateAllowing(s.Cfg.PushAllowHosts); err != nil {
		return err
	}
	sealed, err := s.Seal(ctx, a.UserID, pushAD(a.UserID, a.DeviceIdx), sub)
	if err != nil {
		return s.Internal(ctx, "push subscription", err)
	}
	rec := store.PushSubscriptionRecord{UserID: a.UserID, DeviceIdx: a.DeviceIdx, Sealed: sealed, CreatedAt: s.Now()}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.PutPushSubscription(ctx, rec) }); err != nil {
		return s.Internal(ctx, "push subscription", err)
	}
	return nil
}

// DeletePushSubscription stops pushes to the caller's device.
func (s *Service) DeletePushSubscription(ctx context.Context, a kernel.Auth) error {
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.DeletePushSubscription(ctx, a.UserID, a.DeviceIdx) }); err != nil {
		return s.Internal(ctx, "push subscription", err)
	}
	return nil
}

// maxPendingPushes bounds the pushes waiting for their delay; beyond it new
// ones are dropped (and counted) rather than held.
const maxPendingPushes = 10_000

// pendingPush is a push waiting for its delay. It holds ids only: the text
// and the sender's name are read when the push is sent, if it is.
type pendingPush struct {
	convID   string
	seq      int64
	senderID string
	mentions bool // the message mentions someone (or everyone)
	due      time.Time
}

// schedulePush arranges, PushDelay after a message committed, a push to every
// member for whom no device has acknowledged it: people online anywhere, on
// any node, have acked by then and get none. It never delays the send. The
// wait is owned by runPushes, which Close stops.
func (s *Service) schedulePush(msg Message) {
	if s.pusher == nil {
		return
	}
	p := pendingPush{convID: msg.ConversationID, seq: msg.Seq, senderID: msg.SenderID, mentions: len(msg.Mentions) > 0 || msg.MentionAll,
		due: time.Now().Add(s.Cfg.PushDelay)}
	select {
	case s.pushQueue <- p:
	default:
		s.pushesDropped.Add(1)
		s.Log.Warn("push skipped: too many waiting", "message", msg.ID)
	}
}

// runPushes sends each scheduled push when its delay is up, until ctx ends
// (kernel.Loops); then it waits for the pushes being sent. Pending pushes are
// dropped at shutdown: they are a courtesy, and the messages are stored.
func (s *Service) runPushes(ctx context.Context) {
	var sending sync.WaitGroup
	defer sending.Wait()
	var waiting []pendingPush // in due order: every push waits the same delay
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var due <-chan time.Time
		if len(waiting) > 0 {
			timer.Reset(time.Until(waiting[0].due))
			due = timer.C
		}
		select {
		case <-ctx.Done():
			return
		case p := <-s.pushQueue:
			if len(waiting) >= maxPendingPushes {
				s.pushesDropped.Add(1)
				continue
			}
			waiting = append(waiting, p)
		case <-due:
		}
		timer.Stop()
		now := time.Now()
		for len(waiting) > 0 && !waiting[0].due.After(now) {
			p := waiting[0]
			waiting = waiting[1:]
			select {
			case s.pushSlots <- struct{}{}:
			default:
				s.pushesDropped.Add(1)
				s.Log.Warn("push skipped: too many in flight", "conversation", p.convID, "seq", p.seq)
				continue
			}
			sending.Add(1)
			go func() {
				defer sending.Done()
				defer func() { <-s.pushSlots }()
				ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				s.pushMessage(ctx, p)
			}()
		}
	}
}

// pushMessage notifies the members who have not received the message,
// honouring each one's "Notification and Sound" settings (R-NTF-2): push off,
// the conversation muted, and whether previews show the text (off by default:
// then the push says only who wrote). The message is opened only if a
// preview needs its text; a message recalled or gone meanwhile is not pushed.
// The common case, everyone got it, costs one read (issue 17): the message
// is read only when someone is left to push to, and mentions only when it
// has some.
func (s *Service) pushMessage(ctx context.Context, p pendingPush) {
	q := s.DB.Read()
	ids, err := q.UnreceivedMembers(ctx, p.convID, p.seq, p.senderID)
	if err != nil {
		s.Log.WarnContext(ctx, "push members", "err", err.Error())
		return
	}
	// A mention reaches the person even in a muted chat (R-MSG-7).
	var mentioned []string
	if p.mentions {
		if mentioned, err = q.MentionedMembers(ctx, p.convID, p.seq); err != nil {
			s.Log.WarnContext(ctx, "push mentions", "err", err.Error())
			return
		}
	}
	isMentioned := map[string]bool{}
	for _, id := range mentioned {
		if !isMentioned[id] && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
		isMentioned[id] = true
	}
	if len(ids) == 0 {
		return
	}
	rec, err := q.FindMessage(ctx, p.convID, p.seq)
	if err != nil || rec.Recalled || rec.Body == nil || s.expired(rec) {
		return
	}
	sender, err := s.LookupProfile(ctx, q, p.senderID)
	if err != nil {
		return
	}
	preview := sync.OnceValue(func() string { return previewOf(s.MessageView(ctx, rec)) })
	for _, uid := range ids {
		st, err := s.LookupSettings(ctx, q, uid)
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
		if isMentioned[uid] {
			body = "mentioned you"
		}
		if st.PushShowText {
			body = preview()
		}
		payload, _ := json.Marshal(wire.PushPayload{Type: "message", ConversationID: p.convID, Seq: p.seq, Title: sender.Nickname, Body: body,
			Preview: st.PushShowText, Mentioned: isMentioned[uid]})
		for _, r := range subs {
			var sub push.Subscription
			if err := s.Open(ctx, uid, pushAD(uid, r.DeviceIdx), r.Sealed, &sub); err != nil {
				continue
			}
			err := s.pusher.Send(ctx, sub, payload, 24*time.Hour)
			switch {
			case errors.Is(err, push.ErrGone):
				err := s.DB.Update(ctx, func(q *store.Queries) error { return q.DeletePushSubscription(ctx, uid, r.DeviceIdx) })
				s.Log.InfoContext(ctx, "push subscription dropped", "user", uid, "ok", err == nil)
			case err != nil:
				s.Log.WarnContext(ctx, "push", "user", uid, "err", err.Error())
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
	case KindHistory:
		return "[chat history]"
	case KindSystem:
		return "[disappearing messages changed]"
	case KindCall:
		return "[call]"
	}
	return "[contact card]"
}

// PushCall tells a person with no socket that someone is calling them, on
// every device with a push subscription, unless they turned pushes off or
// muted the conversation (R-NTF-2). The push says only who is calling. The
// calls capability calls it a moment after a call starts, for members none
// of whose devices said they ring.
func (s *Service) PushCall(ctx context.Context, userID string, p wire.PushPayload, callerID string) {
	if s.pusher == nil {
		return
	}
	q := s.DB.Read()
	st, err := s.LookupSettings(ctx, q, userID)
	if err != nil || !st.PushEnabled {
		return
	}
	if p.ConversationID != "" {
		if m, err := q.FindMember(ctx, p.ConversationID, userID); err != nil || m.Muted {
			return
		}
	}
	if caller, err := s.LookupProfile(ctx, q, callerID); err == nil {
		p.Title = caller.Nickname
	}
	p.Body = "is calling you"
	b, _ := json.Marshal(p)
	subs, err := q.PushSubscriptions(ctx, userID)
	if err != nil {
		return
	}
	for _, r := range subs {
		var sub push.Subscription
		if err := s.Open(ctx, userID, pushAD(userID, r.DeviceIdx), r.Sealed, &sub); err != nil {
			continue
		}
		// A call is worth nothing a minute later: a short TTL.
		err := s.pusher.Send(ctx, sub, b, time.Minute)
		switch {
		case errors.Is(err, push.ErrGone):
			s.DB.Update(ctx, func(q *store.Queries) error { return q.DeletePushSubscription(ctx, userID, r.DeviceIdx) })
		case err == nil:
			s.pushesSent.Add(1)
		}
	}
}

// PushesSent counts pushes accepted by push services (a metric).
func (s *Service) PushesSent() uint64 { return s.pushesSent.Load() }

// PushesDropped counts pushes skipped because too many waited or were in
// flight (a metric).
func (s *Service) PushesDropped() uint64 { return s.pushesDropped.Load() }

// SetPushProvider wires the push provider (nil: no pushes).
func (s *Service) SetPushProvider(p push.Provider) { s.pusher = p }
