package service

import (
	"context"
	"encoding/json"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/wire"
)

// publish encodes frame once and hands it to the bus for users' connections.
// Delivery is best effort by design: the message is already stored, and a
// client that misses the event finds it by seq when it syncs.
func (s *Service) publish(ctx context.Context, users []string, frame any) {
	if s.bus == nil || len(users) == 0 {
		return
	}
	b, err := json.Marshal(frame)
	if err != nil {
		s.log.ErrorContext(ctx, "encode frame", "err", err.Error())
		return
	}
	if err := s.bus.Publish(context.WithoutCancel(ctx), tkesj.Event{Users: users, Frame: b}); err != nil {
		s.log.WarnContext(ctx, "publish event", "err", err.Error())
	}
}

// publishToMembers publishes frame to a conversation's current members.
func (s *Service) publishToMembers(ctx context.Context, convID string, frame any) {
	ids, err := s.db.Read().MemberIDs(ctx, convID)
	if err != nil {
		s.log.WarnContext(ctx, "members for event", "err", err.Error())
		return
	}
	s.publish(ctx, ids, frame)
}

// closeConnections tells every node to close a person's sockets: of one
// device, or all of them when deviceIdx is nil.
func (s *Service) closeConnections(ctx context.Context, userID string, deviceIdx []byte) {
	if s.bus == nil {
		return
	}
	e := tkesj.Event{Users: []string{userID}, Control: "close_user"}
	if deviceIdx != nil {
		e.Control, e.DeviceIdx = "close_device", deviceIdx
	}
	if err := s.bus.Publish(context.WithoutCancel(ctx), e); err != nil {
		s.log.WarnContext(ctx, "publish close", "err", err.Error())
	}
}

// ReadyFrame is the first frame on a new WebSocket: the person's
// conversations that have messages they have not acknowledged, so the client
// can pull each by after_seq (R-MSG-4).
func (s *Service) ReadyFrame(ctx context.Context, userID string) ([]byte, error) {
	recs, ms, err := s.db.Read().ConversationsOf(ctx, userID)
	if err != nil {
		return nil, s.internal(ctx, "ready", err)
	}
	pending := []wire.PendingConversation{}
	for i, c := range recs {
		m := ms[i]
		recv, read := max(m.ReceivedSeq, m.JoinedSeq), max(m.ReadSeq, m.JoinedSeq)
		if c.LastSeq > recv {
			pending = append(pending, wire.PendingConversation{ID: c.ID, LastSeq: c.LastSeq, ReceivedSeq: recv, ReadSeq: read})
		}
	}
	return json.Marshal(wire.ReadyFrame{Type: "ready", UserID: userID, Conversations: pending})
}

// ClientFrame handles a frame from a client: ack (delivered), read, typing.
func (s *Service) ClientFrame(ctx context.Context, userID string, deviceIdx []byte, frame []byte) error {
	var f wire.ClientFrame
	if err := json.Unmarshal(frame, &f); err != nil {
		return tkesj.Errorf(tkesj.EMalformed, "malformed_json", "a frame is a JSON object with a type")
	}
	a := Auth{UserID: userID, DeviceIdx: deviceIdx}
	switch f.Type {
	case "ack":
		return s.advance(ctx, a, f.ConversationID, f.Seq, false)
	case "read":
		return s.advance(ctx, a, f.ConversationID, f.Seq, true)
	case "typing":
		if ok, _ := s.typing.Allow(userID); !ok {
			return nil // typing is a hint; extra ones are dropped silently
		}
		return s.Typing(ctx, a, f.ConversationID)
	}
	return tkesj.Errorf(tkesj.EInvalid, "unknown_frame", "frame type must be ack, read, typing or ping")
}
