package calls

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/wire"
)

// Control events calls puts on the bus. The realtime hub delivers
// ControlDeviceFrame's frame to the sockets of one device of Users[0] and
// ignores ControlNode, which only the calls service of Node reads.
const (
	ControlDeviceFrame = "device_frame"
	ControlNode        = "call_node"
)

// SFUPeer is what a group call's signals are addressed to.
const SFUPeer = "sfu"

// maxSignal bounds one signal's JSON (an SDP with simulcast and many codecs
// stays well under it).
const maxSignal = 48 << 10

// nodeFrame is a message for the calls service of one node.
type nodeFrame struct {
	Node   string `json:"node"`
	Op     string `json:"op"` // "sync": the call changed; "signal": from a participant to the SFU
	CallID string `json:"call_id"`
	Media  string `json:"media,omitempty"`
	UserID string `json:"user_id,omitempty"`
	Device []byte `json:"device,omitempty"`
	// Version is the call's version that showed the sender a participant
	// (signal), so the SFU never drops them on an older view (sfu.go, Keep).
	Version int64           `json:"version,omitempty"`
	Signal  json.RawMessage `json:"signal,omitempty"`
}

// IsFrame reports whether a client frame type belongs to calls.
func IsFrame(typ string) bool { return typ == "call_signal" || typ == "call_ringing" }

// ClientFrame handles a call frame from a client's socket:
//
//	{"type":"call_signal","call_id","to":"<user id>"|"sfu","signal":{...}}
//	{"type":"call_ringing","call_id"}  (this device is ringing: no push needed)
//
// Signals travel only between participants of a live call, from the device
// that is in it to the device that is in it (or to the SFU of a group call).
// Anyone else gets not_found (not a member) or not_in_call; a participant
// sending more than SignalBurst signals at once gets rate_limited.
func (s *Service) ClientFrame(ctx context.Context, userID string, device []byte, frame []byte) error {
	var f struct {
		Type   string          `json:"type"`
		CallID string          `json:"call_id"`
		To     string          `json:"to"`
		Signal json.RawMessage `json:"signal"`
	}
	if err := json.Unmarshal(frame, &f); err != nil {
		return tkesj.Errorf(tkesj.EMalformed, "malformed_json", "a call frame is a JSON object with a type and a call_id")
	}
	if f.CallID == "" || len(f.CallID) > 64 {
		return tkesj.Errorf(tkesj.EInvalid, "invalid_call", "call_id is required")
	}
	if !s.allow(f.CallID, userID) {
		s.dropped.Add(1)
		return &tkesj.Error{Kind: tkesj.ERateLimited, Code: "rate_limited", Message: "too many call signals; slow down", RetryAfter: time.Second}
	}
	if f.Type == "call_ringing" {
		_, err := s.update(ctx, userID, f.CallID, func(c *Call) error {
			if !c.Ringing(userID) {
				return errUnchanged
			}
			return nil
		})
		return err
	}
	if len(f.Signal) == 0 || f.Signal[0] != '{' || len(f.Signal) > maxSignal {
		return tkesj.Errorf(tkesj.EInvalid, "invalid_signal", "signal must be a JSON object of at most %d bytes", maxSignal)
	}
	c, version, err := s.store.FindCall(ctx, f.CallID)
	if err != nil || !c.IsMember(userID) {
		return tkesj.ErrNotFound("call")
	}
	me, ok := c.Participant(userID)
	if !ok || string(me.Device) != string(device) {
		return tkesj.Errorf(tkesj.EForbidden, "not_in_call", "only the device that joined this call may signal in it")
	}
	if c.Group {
		if f.To != "" && f.To != SFUPeer {
			return tkesj.Errorf(tkesj.EInvalid, "invalid_peer", `signals of a group call go to "sfu"`)
		}
		s.signals.Add(1)
		if c.Node == s.node {
			s.sfu.Signal(c.ID, c.Media, userID, device, version, f.Signal)
			return nil
		}
		s.nodeEvent(ctx, nodeFrame{Node: c.Node, Op: "signal", CallID: c.ID, Media: c.Media, UserID: userID, Device: device, Version: version, Signal: f.Signal})
		return nil
	}
	var peer Participant
	found := false
	for _, p := range c.Participants {
		if p.UserID != userID && (f.To == "" || f.To == p.UserID) {
			peer, found = p, true
		}
	}
	if !found {
		return tkesj.Errorf(tkesj.EConflict, "peer_not_in_call", "the person you are signalling is not in the call")
	}
	s.signals.Add(1)
	s.sendToDevice(ctx, peer.UserID, peer.Device, c.ID, userID, f.Signal)
	return nil
}

// sendToDevice delivers a call_signal frame to one device's sockets, on
// whichever node holds them.
func (s *Service) sendToDevice(ctx context.Context, userID string, device []byte, callID, from string, signal json.RawMessage) {
	if s.Bus == nil {
		return
	}
	b, err := json.Marshal(wire.CallSignalFrame{Type: "call_signal", CallID: callID, From: from, Signal: signal})
	if err != nil {
		return
	}
	e := tkesj.Event{Users: []string{userID}, Control: ControlDeviceFrame, DeviceIdx: device, Frame: b}
	if err := s.Bus.Publish(context.WithoutCancel(ctx), e); err != nil {
		s.log.WarnContext(ctx, "publish signal", "call", callID, "err", err.Error())
	}
}

// sendToParticipant is the SFU's way to its participants.
func (s *Service) sendToParticipant(callID, userID string, device []byte, signal json.RawMessage) {
	s.sendToDevice(context.Background(), userID, device, callID, SFUPeer, signal)
}

// sfuGone is the SFU reporting that a participant's connection failed for
// good: they leave the call.
func (s *Service) sfuGone(callID, userID string, device []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.update(ctx, "", callID, func(c *Call) error {
		p, ok := c.Participant(userID)
		if !ok || string(p.Device) != string(device) {
			return errUnchanged
		}
		return c.Leave(userID, device, s.Now())
	})
	if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		s.log.Warn("sfu leave", "call", callID, "err", err.Error())
	}
}

func (s *Service) nodeEvent(ctx context.Context, f nodeFrame) {
	if f.Node == s.node {
		s.onNode(f)
		return
	}
	b, err := json.Marshal(f)
	if err != nil || s.Bus == nil {
		return
	}
	if err := s.Bus.Publish(context.WithoutCancel(ctx), tkesj.Event{Control: ControlNode, Frame: b}); err != nil {
		s.log.WarnContext(ctx, "publish node event", "call", f.CallID, "err", err.Error())
	}
}

// onEvent is the bus subscription: it acts on node events for this node.
func (s *Service) onEvent(e tkesj.Event) {
	if e.Control != ControlNode {
		return
	}
	var f nodeFrame
	if err := json.Unmarshal(e.Frame, &f); err != nil || f.Node != s.node {
		return
	}
	s.onNode(f)
}

func (s *Service) onNode(f nodeFrame) {
	switch f.Op {
	case "signal":
		s.sfu.Signal(f.CallID, f.Media, f.UserID, f.Device, f.Version, f.Signal)
	case "sync":
		// Off the bus goroutine: reading the store may take a moment.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, version, err := s.store.FindCall(ctx, f.CallID)
			if tkesj.ErrorKindOf(err) == tkesj.ENotFound || (err == nil && c.State == StateEnded) {
				s.sfu.End(f.CallID)
				return
			}
			if err != nil {
				s.log.Warn("sfu sync", "call", f.CallID, "err", err.Error())
				return
			}
			s.sfu.Keep(f.CallID, version, c.Participants)
		}()
	}
}

// bucket is a token bucket of one participant's signals in one call.
type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the limiter's memory; beyond it the oldest are forgotten.
const maxBuckets = 100_000

func (s *Service) allow(callID, userID string) bool {
	now := time.Now()
	key := callID + "|" + userID
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[key]
	if !ok {
		if len(s.buckets) >= maxBuckets {
			for k, v := range s.buckets {
				if now.Sub(v.last) > time.Minute {
					delete(s.buckets, k)
				}
			}
			if len(s.buckets) >= maxBuckets {
				return false
			}
		}
		b = &bucket{tokens: float64(s.cfg.SignalBurst), last: now}
		s.buckets[key] = b
	}
	b.tokens = min(float64(s.cfg.SignalBurst), b.tokens+now.Sub(b.last).Seconds()*s.cfg.SignalsPerSecond)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
