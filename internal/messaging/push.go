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
	"github.com/tkesj/tkesj/internal/social"
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

// maxPendingPushes bounds the pushes waiting for their delay, and
// maxPendingRecipients the people they name together; beyond either new ones
// are dropped (and counted) rather than held.
const (
	maxPendingPushes     = 10_000
	maxPendingRecipients = 1_000_000
)

// Presence says whether a person has a live socket on any node
// (internal/presence), from memory.
type Presence interface {
	Online(userID string) bool
}

// SetPresence wires who is online (nil: nobody counts as online, and every
// push asks the database). Call it before the service is used.
func (s *Service) SetPresence(p Presence) { s.presence = p }

// Away says that userID is known to have no live socket on any node. It
// is false when nobody tracks presence (then nothing is known).
func (s *Service) Away(userID string) bool {
	return s.presence != nil && !s.presence.Online(userID)
}

// pendingPush is a push waiting for its delay. It holds ids only: the text
// and the sender's name are read when the push is sent, if it is.
type pendingPush struct {
	convID     string
	seq        int64
	senderID   string
	recipients []string // the members when it was stored, but the sender
	mentioned  []string // the members it mentions (R-MSG-7)
	due        time.Time
}

// schedulePush arranges, PushDelay after a message committed, a push to
// every member (members, as the send read them) who is away then and has not
// received it. It never delays the send. The wait is owned by runPushes,
// which Close stops.
func (s *Service) schedulePush(msg Message, members []store.FanOutMember, mentioned []string) {
	if s.pusher == nil {
		return
	}
	recipients := make([]string, 0, len(members))
	for _, m := range members {
		if m.UserID != msg.SenderID {
			recipients = append(recipients, m.UserID)
		}
	}
	if len(recipients) == 0 {
		return
	}
	p := pendingPush{convID: msg.ConversationID, seq: msg.Seq, senderID: msg.SenderID, recipients: recipients, mentioned: mentioned,
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
	held := 0                 // recipients named by waiting
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
			if len(waiting) >= maxPendingPushes || held+len(p.recipients) > maxPendingRecipients {
				s.pushesDropped.Add(1)
				continue
			}
			waiting = append(waiting, p)
			held += len(p.recipients)
		case <-due:
		}
		timer.Stop()
		now := time.Now()
		for len(waiting) > 0 && !waiting[0].due.After(now) {
			p := waiting[0]
			waiting[0] = pendingPush{} // let the ids go with the push
			waiting = waiting[1:]
			held -= len(p.recipients)
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

// pushMessage notifies the members who are away and have not received the
// message, honouring each one's "Notification and Sound" settings (R-NTF-2):
// push off, the conversation muted (unless the message mentions them,
// R-MSG-7), and whether previews show the text (off by default: then the
// push says only who wrote). A message recalled or gone meanwhile is not
// pushed.
//
// Issue 17: most recipients are online, and cost nothing here. Someone with
// a live socket on any node (Presence) had the frame queued on it, or,
// having connected since, got the conversation in their ready frame; they
// are skipped without a read, and when nobody is left nothing is read at
// all. A socket counts as live until it begins to close (realtime.Options.
// Presence), so a slow or signed-out one stops counting at once. A socket
// whose peer vanished without a word (a phone that lost its network) counts
// until the hub's pings notice, at most about three ping intervals: in that
// window its person gets no push for what it was sent. That is the price of
// not asking, per message and recipient, whether a device acknowledged it
// (the read that cost B3 a third of its CPU); the message itself is never
// lost, since the client fetches it on reconnecting, and a socket found dead
// before the push is due no longer counts, so its person is asked about
// below like anyone away.
//
// For the people away, one read finds who has a push subscription and has
// not received the message on any device (PushTargets); settings are read
// only for them, and the message and the sender's name only once a push is
// going to be sent.
func (s *Service) pushMessage(ctx context.Context, p pendingPush) {
	var away []string
	for _, id := range p.recipients {
		if s.presence == nil || !s.presence.Online(id) {
			away = append(away, id)
		}
	}
	if len(away) == 0 {
		return
	}
	q := s.DB.Read()
	targets, err := q.PushTargets(ctx, p.convID, p.seq, away)
	if err != nil {
		s.Log.WarnContext(ctx, "push targets", "err", err.Error())
		return
	}
	// A mention reaches the person even in a muted chat (R-MSG-7).
	subs := map[string][]store.PushSubscriptionRecord{}
	var order []string
	for _, t := range targets {
		if t.Muted && !slices.Contains(p.mentioned, t.UserID) {
			continue
		}
		if _, ok := subs[t.UserID]; !ok {
			order = append(order, t.UserID)
		}
		subs[t.UserID] = append(subs[t.UserID], t.PushSubscriptionRecord)
	}
	// What every push needs, read by the first that is sent: the message
	// (for its text, and to skip one recalled or expired meanwhile) and the
	// sender's name.
	var (
		loaded, gone bool
		rec          store.MessageRecord
		sender       social.Profile
	)
	load := func() bool {
		if !loaded {
			loaded = true
			var err error
			rec, err = q.FindMessage(ctx, p.convID, p.seq)
			gone = err != nil || rec.Recalled || rec.Body == nil || s.expired(rec)
			if !gone {
				sender, err = s.LookupProfile(ctx, q, p.senderID)
				gone = err != nil
			}
		}
		return !gone
	}
	preview := sync.OnceValue(func() string { return previewOf(s.MessageView(ctx, rec)) })
	for _, uid := range order {
		st, err := s.LookupSettings(ctx, q, uid)
		if err != nil || !st.PushEnabled {
			continue
		}
		if !load() {
			return
		}
		mentioned := slices.Contains(p.mentioned, uid)
		// preview tells the client whether body is the message's text; without
		// it the client may word "sent you a message" in the person's language.
		body := "sent you a message"
		if mentioned {
			body = "mentioned you"
		}
		if st.PushShowText {
			body = preview()
		}
		payload, _ := json.Marshal(wire.PushPayload{Type: "message", ConversationID: p.convID, Seq: p.seq, Title: sender.Nickname, Body: body,
			Preview: st.PushShowText, Mentioned: mentioned})
		for _, r := range subs[uid] {
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
