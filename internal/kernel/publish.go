package kernel

import (
	"context"
	"encoding/json"

	"github.com/tkesj/tkesj"
)

// Publish encodes frame once and hands it to the bus for users' connections.
// Delivery is best effort by design: the message is already stored, and a
// client that misses the event finds it by seq when it syncs.
func (s *Core) Publish(ctx context.Context, users []string, frame any) {
	if s.Bus == nil || len(users) == 0 {
		return
	}
	b, err := json.Marshal(frame)
	if err != nil {
		s.Log.ErrorContext(ctx, "encode frame", "err", err.Error())
		return
	}
	if err := s.Bus.Publish(context.WithoutCancel(ctx), tkesj.Event{Users: users, Frame: b}); err != nil {
		s.Log.WarnContext(ctx, "publish event", "err", err.Error())
	}
}

// PublishToMembers publishes frame to a conversation's current members.
func (s *Core) PublishToMembers(ctx context.Context, convID string, frame any) {
	ids, err := s.DB.Read().MemberIDs(ctx, convID)
	if err != nil {
		s.Log.WarnContext(ctx, "members for event", "err", err.Error())
		return
	}
	s.Publish(ctx, ids, frame)
}

// The close events the realtime hub acts on (and cache.go drops sessions on).
const (
	controlCloseUser   = "close_user"
	controlCloseDevice = "close_device"
	controlCloseOthers = "close_others"
)

// CloseConnections tells every node to close a person's sockets: of one
// device, or all of them when deviceIdx is nil.
func (s *Core) CloseConnections(ctx context.Context, userID string, deviceIdx []byte) {
	// Its cached sessions first, here: a request this node takes after the
	// sign-out answered must not find them (other nodes drop theirs when
	// the event arrives, cache.go).
	s.dropLocal(Invalidation{Users: []string{userID}})
	if s.Bus == nil {
		return
	}
	e := tkesj.Event{Users: []string{userID}, Control: controlCloseUser}
	if deviceIdx != nil {
		e.Control, e.DeviceIdx = controlCloseDevice, deviceIdx
	}
	if err := s.Bus.Publish(context.WithoutCancel(ctx), e); err != nil {
		s.Log.WarnContext(ctx, "publish close", "err", err.Error())
	}
}

// CloseOtherConnections tells every node to close a person's sockets except
// those of the device keepIdx (the one that asked): a password change signs
// the other devices out (issue 14 item 1).
func (s *Core) CloseOtherConnections(ctx context.Context, userID string, keepIdx []byte) {
	s.dropLocal(Invalidation{Users: []string{userID}})
	if s.Bus == nil {
		return
	}
	e := tkesj.Event{Users: []string{userID}, Control: controlCloseOthers, DeviceIdx: keepIdx}
	if err := s.Bus.Publish(context.WithoutCancel(ctx), e); err != nil {
		s.Log.WarnContext(ctx, "publish close", "err", err.Error())
	}
}

// Broadcast publishes frame to every account, a page of ids per event.
func (s *Core) Broadcast(ctx context.Context, frame any) {
	after := ""
	for {
		ids, err := s.DB.Read().UserIDs(ctx, after, 1000)
		if err != nil || len(ids) == 0 {
			return
		}
		s.Publish(ctx, ids, frame)
		after = ids[len(ids)-1]
	}
}
