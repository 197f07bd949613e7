package calls

import (
	"slices"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/wire"
)

// States of a call (API.md "Calls").
const (
	StateRinging = "ringing"
	StateActive  = "active"
	StateEnded   = "ended"
)

// Outcomes written into the conversation's call record when a call ends.
const (
	OutcomeCompleted = "completed" // someone answered; duration_s says how long
	OutcomeMissed    = "missed"    // nobody answered in time, or the callee was busy
	OutcomeDeclined  = "declined"  // the callee (every callee of a group) declined
	OutcomeCancelled = "cancelled" // the caller hung up before anyone answered
)

// Reasons, finer than an outcome, shown to the people in the call.
const (
	ReasonBusy       = "busy"
	ReasonTimeout    = "timeout"
	ReasonHangUp     = "hang_up"
	ReasonPermission = "permission_revoked"
	ReasonAbandoned  = "abandoned" // the server ended a call nobody ended (a node gone, an account destroyed)
)

// Media of a call.
const (
	MediaAudio = "audio"
	MediaVideo = "video"
)

// MaxGroup is how many people a group call holds at once (R-CAL-2).
const MaxGroup = 9

// Participant is one person in a call on one device. A person is in a call on
// at most one device: accepting on one stops the others ringing.
type Participant struct {
	UserID    string    `json:"user_id"`
	Device    []byte    `json:"device"` // device index; never sent to clients
	JoinedAt  time.Time `json:"joined_at"`
	Muted     bool      `json:"muted,omitempty"`
	CameraOff bool      `json:"camera_off,omitempty"`
}

// Call is the whole state of one call. It is stored as one document and
// changed only through the transition methods below, each of which is a pure
// function of the call, the actor and the time (state_test.go walks them).
type Call struct {
	ID             string        `json:"id"`
	ConversationID string        `json:"conversation_id"`
	Group          bool          `json:"group"` // a group conversation: media goes through the SFU
	Media          string        `json:"media"`
	State          string        `json:"state"`
	InitiatorID    string        `json:"initiator_id"`
	Members        []string      `json:"members"` // the conversation's members when the call began: who is rung
	Participants   []Participant `json:"participants"`
	Declined       []string      `json:"declined,omitempty"`
	Rung           []string      `json:"rung,omitempty"` // members one of whose devices said it is ringing
	Node           string        `json:"node"`           // the node whose SFU carries a group call
	CreatedAt      time.Time     `json:"created_at"`
	AnsweredAt     time.Time     `json:"answered_at,omitzero"`
	EndedAt        time.Time     `json:"ended_at,omitzero"`
	Outcome        string        `json:"outcome,omitempty"`
	Reason         string        `json:"reason,omitempty"`
}

// Participant returns the person's entry, if they are in the call.
func (c *Call) Participant(userID string) (Participant, bool) {
	for _, p := range c.Participants {
		if p.UserID == userID {
			return p, true
		}
	}
	return Participant{}, false
}

// IsMember reports whether userID was a member of the conversation when the
// call began (the only people who may see, join or decline it).
func (c *Call) IsMember(userID string) bool { return slices.Contains(c.Members, userID) }

// Duration is how long the call was answered for, in whole seconds.
func (c *Call) Duration() int {
	if c.AnsweredAt.IsZero() || c.EndedAt.IsZero() {
		return 0
	}
	return int(c.EndedAt.Sub(c.AnsweredAt).Round(time.Second) / time.Second)
}

func errEnded() error {
	return tkesj.Errorf(tkesj.EConflict, "call_ended", "this call has ended")
}

// NewCall is a call that initiator starts on device at now, ringing the other
// members. A direct call whose callee is busy ends at once as missed.
func NewCall(id, convID string, group bool, media, initiator string, device []byte, members []string, node string, now time.Time) Call {
	return Call{ID: id, ConversationID: convID, Group: group, Media: media, State: StateRinging, InitiatorID: initiator,
		Members: slices.Clone(members), Node: node, CreatedAt: now,
		Participants: []Participant{{UserID: initiator, Device: device, JoinedAt: now}}}
}

// Busy ends a ringing direct call because the callee is in another call.
func (c *Call) Busy(now time.Time) {
	c.end(now, OutcomeMissed, ReasonBusy)
}

// Join puts userID on device into the call. Joining again from the same
// device changes nothing; joining from a second device while the first is in
// the call is refused (answered_elsewhere), which is how the other devices
// learn to stop ringing.
func (c *Call) Join(userID string, device []byte, now time.Time) error {
	if !c.IsMember(userID) {
		return tkesj.ErrNotFound("call")
	}
	if c.State == StateEnded {
		return errEnded()
	}
	if p, ok := c.Participant(userID); ok {
		if string(p.Device) == string(device) {
			return nil
		}
		return tkesj.Errorf(tkesj.EConflict, "answered_elsewhere", "you are already in this call on another device")
	}
	limit := 2
	if c.Group {
		limit = MaxGroup
	}
	if len(c.Participants) >= limit {
		return tkesj.Errorf(tkesj.EConflict, "call_full", "this call already has %d people", limit)
	}
	c.Participants = append(c.Participants, Participant{UserID: userID, Device: device, JoinedAt: now})
	c.Declined = slices.DeleteFunc(c.Declined, func(id string) bool { return id == userID })
	if c.State == StateRinging {
		c.State, c.AnsweredAt = StateActive, now
	}
	return nil
}

// Decline is a callee saying no. A direct call ends as declined; a group call
// ends as declined once every other member has declined while nobody joined.
// A participant declining is leaving.
func (c *Call) Decline(userID string, now time.Time) error {
	if !c.IsMember(userID) {
		return tkesj.ErrNotFound("call")
	}
	if c.State == StateEnded {
		return errEnded()
	}
	if p, ok := c.Participant(userID); ok {
		return c.Leave(userID, p.Device, now)
	}
	if !slices.Contains(c.Declined, userID) {
		c.Declined = append(c.Declined, userID)
	}
	if c.State == StateRinging && len(c.Declined) >= len(c.Members)-1 {
		c.end(now, OutcomeDeclined, "")
	}
	return nil
}

// Leave takes userID out of the call (hang-up). The caller hanging up before
// anyone answered cancels the call; once answered, the call ends when fewer
// than two people remain in it.
func (c *Call) Leave(userID string, device []byte, now time.Time) error {
	if !c.IsMember(userID) {
		return tkesj.ErrNotFound("call")
	}
	if c.State == StateEnded {
		return nil // hanging up twice is not an error
	}
	p, ok := c.Participant(userID)
	if !ok {
		// A member who never joined and "leaves" is declining to join.
		return c.Decline(userID, now)
	}
	if device != nil && string(p.Device) != string(device) {
		return tkesj.Errorf(tkesj.EConflict, "answered_elsewhere", "you are in this call on another device")
	}
	c.Participants = slices.DeleteFunc(c.Participants, func(q Participant) bool { return q.UserID == userID })
	switch {
	case c.State == StateRinging && len(c.Participants) == 0:
		c.end(now, OutcomeCancelled, ReasonHangUp)
	case c.State == StateActive && len(c.Participants) < 2:
		c.end(now, OutcomeCompleted, ReasonHangUp)
	}
	return nil
}

// Revoke is the person withdrawing the microphone (or, in a video call, the
// camera) permission: their sending ends, so they leave the call.
func (c *Call) Revoke(userID string, now time.Time) {
	if _, ok := c.Participant(userID); !ok || c.State == StateEnded {
		return
	}
	c.Leave(userID, nil, now)
	if c.State == StateEnded {
		c.Reason = ReasonPermission
	}
}

// Expire ends a call still ringing at now as missed. It reports whether the
// call changed.
func (c *Call) Expire(now time.Time) bool {
	if c.State != StateRinging {
		return false
	}
	c.end(now, OutcomeMissed, ReasonTimeout)
	return true
}

// Abandon ends a call nobody ended: ringing, it is missed; answered, it is
// completed at now. It reports whether the call changed.
func (c *Call) Abandon(now time.Time) bool {
	switch c.State {
	case StateRinging:
		c.end(now, OutcomeMissed, ReasonAbandoned)
	case StateActive:
		c.end(now, OutcomeCompleted, ReasonAbandoned)
	default:
		return false
	}
	return true
}

// SetMedia records a participant muting or switching the camera off.
func (c *Call) SetMedia(userID string, muted, cameraOff bool) error {
	if c.State == StateEnded {
		return errEnded()
	}
	for i := range c.Participants {
		if c.Participants[i].UserID == userID {
			c.Participants[i].Muted, c.Participants[i].CameraOff = muted, cameraOff
			return nil
		}
	}
	return tkesj.ErrNotFound("call")
}

// Ringing records that one of userID's devices is ringing: they have a socket
// and need no push.
func (c *Call) Ringing(userID string) bool {
	if c.State != StateRinging || !c.IsMember(userID) || slices.Contains(c.Rung, userID) {
		return false
	}
	c.Rung = append(c.Rung, userID)
	return true
}

func (c *Call) end(now time.Time, outcome, reason string) {
	c.State, c.EndedAt, c.Outcome, c.Reason = StateEnded, now, outcome, reason
	if outcome != OutcomeCompleted {
		c.AnsweredAt = time.Time{}
	}
	c.Participants = nil
}

// Record is the call record message a call leaves in its conversation.
type Record struct {
	CallID    string `json:"call_id"`
	Media     string `json:"media"`
	State     string `json:"state"` // completed, missed, declined, cancelled
	DurationS int    `json:"duration_s"`
	Reason    string `json:"reason,omitempty"`
}

// Record returns the record of an ended call.
func (c *Call) Record() Record {
	return Record{CallID: c.ID, Media: c.Media, State: c.Outcome, DurationS: c.Duration(), Reason: c.Reason}
}

// JSON is the wire form of a call as members see it (API.md): who is in it,
// muted or with the camera off, never on which device.
func (c *Call) JSON() wire.Call {
	parts := make([]wire.CallParticipant, 0, len(c.Participants))
	for _, p := range c.Participants {
		parts = append(parts, wire.CallParticipant{UserID: p.UserID, Muted: p.Muted, CameraOff: p.CameraOff})
	}
	j := wire.Call{ID: c.ID, ConversationID: c.ConversationID, Media: c.Media, State: c.State, InitiatorID: c.InitiatorID,
		Group: c.Group, Participants: parts, Members: append([]string{}, c.Members...), Declined: append([]string{}, c.Declined...),
		CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339Nano)}
	if !c.AnsweredAt.IsZero() {
		j.AnsweredAt = c.AnsweredAt.UTC().Format(time.RFC3339Nano)
	}
	if c.State == StateEnded {
		d := c.Duration()
		j.Outcome, j.DurationS, j.Reason = c.Outcome, &d, c.Reason
	}
	return j
}
