package messaging

import (
	"context"
	"encoding/json"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/wire"
)

// ReadyFrame is the first frame on a new WebSocket: the person's
// conversations that have messages they have not acknowledged, so the client
// can pull each by after_seq (R-MSG-4).
func (s *Service) ReadyFrame(ctx context.Context, userID string) ([]byte, error) {
	recs, ms, err := s.DB.Read().ConversationsOf(ctx, userID)
	if err != nil {
		return nil, s.Internal(ctx, "ready", err)
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
	a := kernel.Auth{UserID: userID, DeviceIdx: deviceIdx}
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
