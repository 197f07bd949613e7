// Package calls is tkesj's voice and video calls (R-CAL-1..3): the call state
// machine, signalling over the WebSocket, the TURN server and the selective
// forwarding unit (SFU) for group calls, all inside the binary.
//
// It is a capability package: it builds on the kernel (store, bus, clock),
// accounts (device permissions) and messaging (membership, the call record
// message, pushes); internal/service composes it, internal/app hands it the
// TURN relay and the SFU's ports, and internal/httpapi calls its methods.
//
// A call's state is one document in the store, changed by compare-and-swap,
// so any node may serve any request of any call. Frames reach people's sockets
// on every node through the bus. A group call's SFU lives on the node that
// started it (Call.Node); signals for it travel there over the bus.
//
// Privacy: media of one-to-one calls flows between the browsers (DTLS-SRTP),
// through the TURN relay at most, which cannot decrypt it. The SFU forwards
// group calls' encrypted-per-hop packets without storing or recording them.
// The server keeps, while a call lives, who is in it and since when; once it
// ends only the call record message remains (who called, media, outcome,
// duration), kept and erased like any other message.
package calls

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/messaging"
	"github.com/tkesj/tkesj/internal/wire"
)

// Config tunes calls.
type Config struct {
	// RingTimeout is how long a call rings before it is missed; default 45 s.
	RingTimeout time.Duration
	// PushDelay is how long after the call starts a member who has a live
	// socket but none of whose devices rang gets a push; default 2 s. A
	// member with no live socket anywhere gets one at once.
	PushDelay time.Duration
	// SignalsPerSecond and SignalBurst bound the signals one participant may
	// send in one call; over them signals are refused (rate_limited).
	SignalsPerSecond float64
	SignalBurst      int
	// CredentialTTL is how long TURN credentials are valid; default 10 min.
	CredentialTTL time.Duration
}

func (c Config) withDefaults() Config {
	if c.RingTimeout <= 0 {
		c.RingTimeout = 45 * time.Second
	}
	if c.PushDelay <= 0 {
		c.PushDelay = 2 * time.Second
	}
	if c.SignalsPerSecond <= 0 {
		c.SignalsPerSecond = 10
	}
	if c.SignalBurst <= 0 {
		c.SignalBurst = 30
	}
	if c.CredentialTTL <= 0 {
		c.CredentialTTL = 10 * time.Minute
	}
	return c
}

// Options are what internal/app decides for calls: the tunables, the TURN
// relay (nil: none; ice_servers is empty) and where the SFU's sockets go.
type Options struct {
	Config
	TURN *TURN
	SFU  SFUConfig
}

// Service runs calls on one node.
type Service struct {
	*kernel.Core
	accounts *accounts.Service
	msg      *messaging.Service
	store    callStore
	turn     *TURN
	cfg      Config
	node     string
	log      *slog.Logger
	sfu      *SFU
	unsub    func()

	mu      sync.Mutex
	timers  map[string]*time.Timer // ring timeouts of calls this node started
	buckets map[string]*bucket     // signal rate per call and participant
	closed  bool

	signals atomic.Uint64 // signals relayed
	dropped atomic.Uint64 // signals refused
}

// Stats are the calls counters of this node.
type Stats struct {
	Signals, Dropped uint64
	SFUCalls         int
	SFUForwarded     uint64
}

// Stats reports the node's counters.
func (s *Service) Stats() Stats {
	st := Stats{Signals: s.signals.Load(), Dropped: s.dropped.Load()}
	if s.sfu != nil {
		st.SFUCalls, st.SFUForwarded = s.sfu.Stats()
	}
	return st
}

// New starts calls on this node on core: it listens on the bus (the kernel's subscription) for
// signals meant for this node's SFU, and registers the live calls table with
// the personal-data registry.
func New(core *kernel.Core, a *accounts.Service, m *messaging.Service, opts Options) (*Service, error) {
	s := &Service{Core: core, accounts: a, msg: m, store: callStore{db: core.DB}, turn: opts.TURN, cfg: opts.Config.withDefaults(),
		node: kernel.NewID("n"), log: core.Log, timers: map[string]*time.Timer{}, buckets: map[string]*bucket{}}
	sfu, err := NewSFU(opts.SFU, s.sendToParticipant, s.sfuGone, core.Log)
	if err != nil {
		return nil, err
	}
	s.sfu = sfu
	// The kernel's subscription, not one of our own (kernel.OnBusEvent).
	s.unsub = core.OnBusEvent(s.onEvent)
	s.registerPersonalData()
	a.OnPermissionChange(s.PermissionChanged)
	return s, nil
}

// Close ends the node's calls' media and timers.
func (s *Service) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for _, t := range s.timers {
		t.Stop()
	}
	s.mu.Unlock()
	s.unsub()
	s.sfu.Close()
}

// Node is this node's id (the owner of the group calls it started).
func (s *Service) Node() string { return s.node }

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer = wire.ICEServer

// Joined is the answer to starting or joining a call: the call and, for the
// caller only, the relay's short-lived credentials.
type Joined struct {
	Call       Call
	ICEServers []ICEServer
}

// Start begins a call in convID (R-CAL-1). The caller must be a member
// (not_found otherwise) and have granted the microphone, and for video the
// camera (403 permission_revoked). A conversation with a live call answers
// 409 call_in_progress with nothing changed. A direct call to someone busy in
// another call ends at once as missed with reason busy.
func (s *Service) Start(ctx context.Context, userID string, device []byte, convID, media string) (Joined, error) {
	if media != MediaAudio && media != MediaVideo {
		return Joined{}, tkesj.Errorf(tkesj.EInvalid, "invalid_media", `media must be "audio" or "video"`)
	}
	group, members, err := s.msg.ConversationMembers(ctx, userID, convID)
	if err != nil {
		return Joined{}, err
	}
	if len(members) < 2 {
		return Joined{}, tkesj.Errorf(tkesj.EInvalid, "nobody_to_call", "there is nobody else in this conversation to call")
	}
	if err := s.requireMedia(ctx, userID, media); err != nil {
		return Joined{}, err
	}
	if mine, err := s.store.LiveCallsOf(ctx, userID); err == nil && len(mine) > 0 {
		return Joined{}, tkesj.Errorf(tkesj.EConflict, "already_in_call", "you are already in a call; hang up first")
	}
	now := s.Now()
	c := NewCall(kernel.NewID("c"), convID, group, media, userID, device, members, s.node, now)
	busy := false
	if !group {
		for _, m := range members {
			if m != userID {
				if theirs, err := s.store.LiveCallsOf(ctx, m); err == nil && len(theirs) > 0 {
					busy = true
				}
			}
		}
	}
	if busy {
		c.Busy(now)
		s.publishCall(ctx, c)
		s.appendRecord(ctx, c)
		return Joined{Call: c}, nil
	}
	if err := s.store.CreateCall(ctx, c); err != nil {
		return Joined{}, err
	}
	s.armTimeout(c.ID)
	s.publishCall(ctx, c)
	s.schedulePush(c)
	if group {
		s.sfu.Open(c.ID, c.Media)
	}
	return Joined{Call: c, ICEServers: s.iceServers(userID, c.ID)}, nil
}

// requireMedia checks the permissions a call of media needs.
func (s *Service) requireMedia(ctx context.Context, userID, media string) error {
	need := []string{tkesj.PermMicrophone}
	if media == MediaVideo {
		need = append(need, tkesj.PermCamera)
	}
	for _, p := range need {
		ok, err := s.accounts.PermissionGranted(ctx, userID, p)
		if err != nil {
			return err
		}
		if !ok {
			return tkesj.Errorf(tkesj.EForbidden, "permission_revoked",
				"a %s call needs the %q permission; grant it in Me > Privacy > Permissions (PUT /api/v1/me/permissions/%s with {\"granted\":true})", media, p, p)
		}
	}
	return nil
}

// Join answers or joins a call. Not a member: not_found. Permissions as for
// Start. Another device of the same person already in it: 409
// answered_elsewhere.
func (s *Service) Join(ctx context.Context, userID string, device []byte, callID string) (Joined, error) {
	c, err := s.update(ctx, userID, callID, func(c *Call) error {
		if !c.IsMember(userID) {
			return tkesj.ErrNotFound("call")
		}
		if err := s.requireMedia(ctx, userID, c.Media); err != nil {
			return err
		}
		if _, in := c.Participant(userID); !in {
			if mine, err := s.store.LiveCallsOf(ctx, userID); err == nil && slices.ContainsFunc(mine, func(o Call) bool { return o.ID != c.ID }) {
				return tkesj.Errorf(tkesj.EConflict, "already_in_call", "you are already in another call; hang up first")
			}
		}
		return c.Join(userID, device, s.Now())
	})
	if err != nil {
		return Joined{}, err
	}
	return Joined{Call: c, ICEServers: s.iceServers(userID, c.ID)}, nil
}

// Decline is a callee refusing (every device stops ringing).
func (s *Service) Decline(ctx context.Context, userID string, device []byte, callID string) (Call, error) {
	return s.update(ctx, userID, callID, func(c *Call) error { return c.Decline(userID, s.Now()) })
}

// Leave hangs up: the caller before an answer cancels; otherwise the person
// leaves and the call ends when fewer than two remain.
func (s *Service) Leave(ctx context.Context, userID string, device []byte, callID string) (Call, error) {
	return s.update(ctx, userID, callID, func(c *Call) error { return c.Leave(userID, device, s.Now()) })
}

// SetMedia records the caller muting or switching the camera off, for the
// others' screens.
func (s *Service) SetMedia(ctx context.Context, userID string, callID string, muted, cameraOff bool) (Call, error) {
	return s.update(ctx, userID, callID, func(c *Call) error {
		if !c.IsMember(userID) {
			return tkesj.ErrNotFound("call")
		}
		return c.SetMedia(userID, muted, cameraOff)
	})
}

// LiveFor is the wire form of the live calls of userID's conversations, for
// the ready frame of a socket that just connected. Errors leave it empty.
func (s *Service) LiveFor(ctx context.Context, userID string) []wire.Call {
	cs, err := s.store.CallsOfMember(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "live calls for ready", "err", err.Error())
		return nil
	}
	out := make([]wire.Call, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.JSON())
	}
	return out
}

// Find returns a live call the caller is a member of.
func (s *Service) Find(ctx context.Context, userID, callID string) (Call, error) {
	c, _, err := s.store.FindCall(ctx, callID)
	if err != nil || !c.IsMember(userID) {
		return Call{}, tkesj.ErrNotFound("call")
	}
	return c, nil
}

// PermissionChanged is told of every permission change. Withdrawing the
// microphone, or the camera during a video call, takes the person out of
// their calls: their sending ends (R-CAL-3).
func (s *Service) PermissionChanged(ctx context.Context, userID, name string, granted bool) {
	if granted || (name != tkesj.PermMicrophone && name != tkesj.PermCamera) {
		return
	}
	mine, err := s.store.LiveCallsOf(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "calls of revoking person", "err", err.Error())
		return
	}
	for _, c := range mine {
		if name == tkesj.PermCamera && c.Media != MediaVideo {
			continue
		}
		if _, err := s.update(ctx, userID, c.ID, func(c *Call) error { c.Revoke(userID, s.Now()); return nil }); err != nil {
			s.log.WarnContext(ctx, "revoke call", "call", c.ID, "err", err.Error())
		}
	}
}

// errUnchanged tells update that fn changed nothing worth writing.
var errUnchanged = errors.New("unchanged")

// update applies fn to the current call and writes it back, retrying when
// another node changed the call meanwhile. It publishes the new state to every
// member, and when the call ended it deletes it and appends the record, once:
// only the writer that ended the call does.
func (s *Service) update(ctx context.Context, userID, callID string, fn func(c *Call) error) (Call, error) {
	for range 20 {
		c, version, err := s.store.FindCall(ctx, callID)
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return Call{}, tkesj.ErrNotFound("call")
		}
		if err != nil {
			return Call{}, err
		}
		if userID != "" && !c.IsMember(userID) {
			return Call{}, tkesj.ErrNotFound("call")
		}
		before, _ := json.Marshal(c)
		if err := fn(&c); errors.Is(err, errUnchanged) {
			return c, nil
		} else if err != nil {
			return Call{}, err
		}
		if after, _ := json.Marshal(c); string(after) == string(before) {
			return c, nil
		}
		ok, err := s.store.UpdateCall(ctx, c, version)
		if err != nil {
			return Call{}, err
		}
		if !ok {
			continue
		}
		s.changed(ctx, c)
		return c, nil
	}
	return Call{}, tkesj.Errorf(tkesj.EUnavailable, "call_busy", "this call is changing too fast; try again")
}

// changed publishes a written state and finishes an ended call.
func (s *Service) changed(ctx context.Context, c Call) {
	s.publishCall(ctx, c)
	if c.Group {
		s.nodeEvent(ctx, nodeFrame{Node: c.Node, Op: "sync", CallID: c.ID})
	}
	if c.State == StateEnded {
		s.mu.Lock()
		if t, ok := s.timers[c.ID]; ok {
			t.Stop()
			delete(s.timers, c.ID)
		}
		for k := range s.buckets {
			if strings.HasPrefix(k, c.ID+"|") {
				delete(s.buckets, k)
			}
		}
		s.mu.Unlock()
		if err := s.store.DeleteCall(ctx, c.ID); err != nil {
			s.log.WarnContext(ctx, "delete ended call", "call", c.ID, "err", err.Error())
		}
		s.appendRecord(ctx, c)
	}
}

func (s *Service) appendRecord(ctx context.Context, c Call) {
	r := c.Record()
	info := messaging.CallInfo{CallID: r.CallID, Media: r.Media, State: r.State, DurationS: r.DurationS, Reason: r.Reason}
	if err := s.msg.AppendCallRecord(context.WithoutCancel(ctx), c.InitiatorID, c.ConversationID, info); err != nil {
		s.log.WarnContext(ctx, "call record", "call", c.ID, "err", err.Error())
	}
}

// publishCall sends {"type":"call","call":...} to every member's sockets.
func (s *Service) publishCall(ctx context.Context, c Call) {
	s.Publish(ctx, c.Members, wire.CallFrame{Type: "call", Call: c.JSON()})
}

// armTimeout ends the call as missed if it still rings after RingTimeout.
func (s *Service) armTimeout(callID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.timers[callID] = time.AfterFunc(s.cfg.RingTimeout, func() {
		s.mu.Lock()
		delete(s.timers, callID)
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		s.expire(ctx, callID)
	})
}

func (s *Service) expire(ctx context.Context, callID string) {
	_, err := s.update(ctx, "", callID, func(c *Call) error {
		if !c.Expire(s.Now()) {
			return errUnchanged
		}
		return nil
	})
	if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		s.log.WarnContext(ctx, "expire call", "call", callID, "err", err.Error())
	}
}

// Sweep ends calls left ringing past their timeout (say, by a node that
// stopped) and group calls whose SFU node is gone. Run it at start.
func (s *Service) Sweep(ctx context.Context) {
	all, err := s.store.LiveCalls(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "sweep calls", "err", err.Error())
		return
	}
	for _, c := range all {
		if c.State == StateRinging && s.Now().Sub(c.CreatedAt) >= s.cfg.RingTimeout {
			s.expire(ctx, c.ID)
		} else if c.State == StateRinging {
			s.armTimeout(c.ID)
		}
	}
}

// schedulePush pushes to the members who should hear of the call from a
// push: at once to those with no live socket on any node (presence says
// so: no device of theirs can ring, and waiting would only delay the
// phone in their pocket), and after PushDelay to the others none of whose
// devices rang by then (a socket that looked alive but was not).
func (s *Service) schedulePush(c Call) {
	payload := wire.PushPayload{Type: "call", CallID: c.ID, ConversationID: c.ConversationID, Media: c.Media}
	var away []string
	for _, m := range c.Members {
		if _, in := c.Participant(m); !in && s.msg.Away(m) {
			away = append(away, m)
		}
	}
	if len(away) > 0 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, m := range away {
				s.msg.PushCall(ctx, m, payload, c.InitiatorID)
			}
		}()
	}
	time.AfterFunc(s.cfg.PushDelay, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cur, _, err := s.store.FindCall(ctx, c.ID)
		if err != nil || cur.State != StateRinging {
			return
		}
		for _, m := range cur.Members {
			if _, in := cur.Participant(m); in || slices.Contains(away, m) || slices.Contains(cur.Rung, m) || slices.Contains(cur.Declined, m) {
				continue
			}
			s.msg.PushCall(ctx, m, payload, c.InitiatorID)
		}
	})
}

// iceServers are the relay's credentials for one participant of one call.
func (s *Service) iceServers(userID, callID string) []ICEServer {
	if s.turn == nil {
		return []ICEServer{}
	}
	return s.turn.Credentials(userID, callID, s.cfg.CredentialTTL)
}
