// Package calls is tkesj's voice and video calls (R-CAL-1..3): the call state
// machine, signalling over the WebSocket, the TURN server and the selective
// forwarding unit (SFU) for group calls, all inside the binary.
//
// It depends only on the narrow interfaces it declares below (membership,
// permissions, the call record message, pushes, the store of live calls and
// the event bus); internal/app adapts the service and the store to them, and
// internal/httpapi calls its methods. No other package imports it.
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
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj"
)

// Membership tells who is in a conversation.
type Membership interface {
	// ConversationMembers returns whether convID is a group and its members,
	// or a not_found error when it does not exist or userID is not a member.
	ConversationMembers(ctx context.Context, userID, convID string) (group bool, members []string, err error)
}

// Permissions tells whether a person has granted a device permission.
type Permissions interface {
	PermissionGranted(ctx context.Context, userID, name string) (bool, error)
}

// Records appends the call record message to a conversation, sent by the
// call's initiator. It is called once per call, by the node that ended it.
type Records interface {
	AppendCallRecord(ctx context.Context, senderID, convID string, r Record) error
}

// Pusher notifies people who have no socket that someone is calling them.
// Nil sends no pushes.
type Pusher interface {
	PushCall(ctx context.Context, userID string, payload map[string]any)
}

// Store keeps live calls. Ended calls are deleted: their record message is
// what remains.
type Store interface {
	// CreateCall stores a new call; it fails with conflict (call_in_progress)
	// when the conversation already has a live call.
	CreateCall(ctx context.Context, c Call) error
	// FindCall returns the call and its version, or not_found.
	FindCall(ctx context.Context, id string) (Call, int64, error)
	// UpdateCall replaces the call if its version is still version; it
	// reports whether it did.
	UpdateCall(ctx context.Context, c Call, version int64) (bool, error)
	// DeleteCall removes an ended call.
	DeleteCall(ctx context.Context, id string) error
	// LiveCallsOf lists the live calls userID is a participant of.
	LiveCallsOf(ctx context.Context, userID string) ([]Call, error)
	// LiveCalls lists every live call (for the sweep after a restart).
	LiveCalls(ctx context.Context) ([]Call, error)
	// CallsOfMember lists the live calls that ring, or ran, for userID.
	CallsOfMember(ctx context.Context, userID string) ([]Call, error)
}

// Config tunes calls.
type Config struct {
	// RingTimeout is how long a call rings before it is missed; default 45 s.
	RingTimeout time.Duration
	// PushDelay is how long after the call starts a member none of whose
	// devices rang gets a push; default 2 s.
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

// Deps are what calls needs from the rest of tkesj.
type Deps struct {
	Members     Membership
	Permissions Permissions
	Records     Records
	Pusher      Pusher
	Store       Store
	Bus         tkesj.Bus
	Log         *slog.Logger
	TURN        *TURN // nil: no relay; ice_servers is empty
	SFU         SFUConfig
	Now         func() time.Time
}

// Service runs calls on one node.
type Service struct {
	deps  Deps
	cfg   Config
	node  string
	log   *slog.Logger
	now   func() time.Time
	sfu   *SFU
	unsub func()

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

// New starts calls on this node: it subscribes to the bus for signals meant
// for this node's SFU.
func New(deps Deps, cfg Config) (*Service, error) {
	if deps.Members == nil || deps.Permissions == nil || deps.Records == nil || deps.Store == nil || deps.Bus == nil {
		return nil, errors.New("new calls: missing dependency")
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	s := &Service{deps: deps, cfg: cfg.withDefaults(), node: newID("n"), log: deps.Log, now: deps.Now,
		timers: map[string]*time.Timer{}, buckets: map[string]*bucket{}}
	sfu, err := NewSFU(deps.SFU, s.sendToParticipant, s.sfuGone, deps.Log)
	if err != nil {
		return nil, err
	}
	s.sfu = sfu
	unsub, err := deps.Bus.Subscribe(s.onEvent)
	if err != nil {
		return nil, err
	}
	s.unsub = unsub
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

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + strings.ToLower(idEncoding.EncodeToString(b))
}

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

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
	group, members, err := s.deps.Members.ConversationMembers(ctx, userID, convID)
	if err != nil {
		return Joined{}, err
	}
	if len(members) < 2 {
		return Joined{}, tkesj.Errorf(tkesj.EInvalid, "nobody_to_call", "there is nobody else in this conversation to call")
	}
	if err := s.requireMedia(ctx, userID, media); err != nil {
		return Joined{}, err
	}
	if mine, err := s.deps.Store.LiveCallsOf(ctx, userID); err == nil && len(mine) > 0 {
		return Joined{}, tkesj.Errorf(tkesj.EConflict, "already_in_call", "you are already in a call; hang up first")
	}
	now := s.now()
	c := NewCall(newID("c"), convID, group, media, userID, device, members, s.node, now)
	busy := false
	if !group {
		for _, m := range members {
			if m != userID {
				if theirs, err := s.deps.Store.LiveCallsOf(ctx, m); err == nil && len(theirs) > 0 {
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
	if err := s.deps.Store.CreateCall(ctx, c); err != nil {
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
		ok, err := s.deps.Permissions.PermissionGranted(ctx, userID, p)
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
			if mine, err := s.deps.Store.LiveCallsOf(ctx, userID); err == nil && slices.ContainsFunc(mine, func(o Call) bool { return o.ID != c.ID }) {
				return tkesj.Errorf(tkesj.EConflict, "already_in_call", "you are already in another call; hang up first")
			}
		}
		return c.Join(userID, device, s.now())
	})
	if err != nil {
		return Joined{}, err
	}
	return Joined{Call: c, ICEServers: s.iceServers(userID, c.ID)}, nil
}

// Decline is a callee refusing (every device stops ringing).
func (s *Service) Decline(ctx context.Context, userID string, device []byte, callID string) (Call, error) {
	return s.update(ctx, userID, callID, func(c *Call) error { return c.Decline(userID, s.now()) })
}

// Leave hangs up: the caller before an answer cancels; otherwise the person
// leaves and the call ends when fewer than two remain.
func (s *Service) Leave(ctx context.Context, userID string, device []byte, callID string) (Call, error) {
	return s.update(ctx, userID, callID, func(c *Call) error { return c.Leave(userID, device, s.now()) })
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
func (s *Service) LiveFor(ctx context.Context, userID string) []map[string]any {
	cs, err := s.deps.Store.CallsOfMember(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "live calls for ready", "err", err.Error())
		return nil
	}
	out := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.JSON())
	}
	return out
}

// Find returns a live call the caller is a member of.
func (s *Service) Find(ctx context.Context, userID, callID string) (Call, error) {
	c, _, err := s.deps.Store.FindCall(ctx, callID)
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
	mine, err := s.deps.Store.LiveCallsOf(ctx, userID)
	if err != nil {
		s.log.WarnContext(ctx, "calls of revoking person", "err", err.Error())
		return
	}
	for _, c := range mine {
		if name == tkesj.PermCamera && c.Media != MediaVideo {
			continue
		}
		if _, err := s.update(ctx, userID, c.ID, func(c *Call) error { c.Revoke(userID, s.now()); return nil }); err != nil {
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
		c, version, err := s.deps.Store.FindCall(ctx, callID)
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
		ok, err := s.deps.Store.UpdateCall(ctx, c, version)
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
		if err := s.deps.Store.DeleteCall(ctx, c.ID); err != nil {
			s.log.WarnContext(ctx, "delete ended call", "call", c.ID, "err", err.Error())
		}
		s.appendRecord(ctx, c)
	}
}

func (s *Service) appendRecord(ctx context.Context, c Call) {
	if err := s.deps.Records.AppendCallRecord(context.WithoutCancel(ctx), c.InitiatorID, c.ConversationID, c.Record()); err != nil {
		s.log.WarnContext(ctx, "call record", "call", c.ID, "err", err.Error())
	}
}

// publishCall sends {"type":"call","call":...} to every member's sockets.
func (s *Service) publishCall(ctx context.Context, c Call) {
	b, err := json.Marshal(map[string]any{"type": "call", "call": c.JSON()})
	if err != nil {
		return
	}
	if err := s.deps.Bus.Publish(context.WithoutCancel(ctx), tkesj.Event{Users: c.Members, Frame: b}); err != nil {
		s.log.WarnContext(ctx, "publish call", "call", c.ID, "err", err.Error())
	}
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
		if !c.Expire(s.now()) {
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
	all, err := s.deps.Store.LiveCalls(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "sweep calls", "err", err.Error())
		return
	}
	for _, c := range all {
		if c.State == StateRinging && s.now().Sub(c.CreatedAt) >= s.cfg.RingTimeout {
			s.expire(ctx, c.ID)
		} else if c.State == StateRinging {
			s.armTimeout(c.ID)
		}
	}
}

// schedulePush pushes, after PushDelay, to members none of whose devices rang.
func (s *Service) schedulePush(c Call) {
	if s.deps.Pusher == nil {
		return
	}
	time.AfterFunc(s.cfg.PushDelay, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cur, _, err := s.deps.Store.FindCall(ctx, c.ID)
		if err != nil || cur.State != StateRinging {
			return
		}
		for _, m := range cur.Members {
			if _, in := cur.Participant(m); in || slices.Contains(cur.Rung, m) || slices.Contains(cur.Declined, m) {
				continue
			}
			s.deps.Pusher.PushCall(ctx, m, map[string]any{"type": "call", "call_id": c.ID, "conversation_id": c.ConversationID,
				"media": c.Media, "caller_id": c.InitiatorID})
		}
	})
}

// iceServers are the relay's credentials for one participant of one call.
func (s *Service) iceServers(userID, callID string) []ICEServer {
	if s.deps.TURN == nil {
		return []ICEServer{}
	}
	return s.deps.TURN.Credentials(userID, callID, s.cfg.CredentialTTL)
}
