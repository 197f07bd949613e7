package calls

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func direct() Call {
	return NewCall("c1", "conv", false, MediaVideo, "alice", []byte{1}, []string{"alice", "bob"}, "n", t0)
}

func group(n int) Call {
	members := []string{"u0"}
	for i := 1; i < n; i++ {
		members = append(members, fmt.Sprintf("u%d", i))
	}
	return NewCall("g1", "conv", true, MediaAudio, "u0", []byte{0}, members, "n", t0)
}

func code(err error) string {
	if err == nil {
		return ""
	}
	return tkesj.ErrorCode(err)
}

// R-CAL-1: each way a one-to-one call can go, step by step, ends in the
// state and record a person expects.
func TestDirectCall(t *testing.T) {
	type step struct {
		who    string
		act    string // join, decline, leave, expire, revoke
		device byte
		err    string
	}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name     string
		steps    []step
		state    string
		outcome  string
		duration int
	}{
		{"answered and hung up lasts from answer to hang-up", []step{{"bob", "join", 7, ""}, {"alice", "leave", 1, ""}}, StateEnded, OutcomeCompleted, 10},
		{"declined by the callee", []step{{"bob", "decline", 7, ""}}, StateEnded, OutcomeDeclined, 0},
		{"cancelled by the caller before an answer", []step{{"alice", "leave", 1, ""}}, StateEnded, OutcomeCancelled, 0},
		{"unanswered rings out as missed", []step{{"", "expire", 0, ""}}, StateEnded, OutcomeMissed, 0},
		{"an answered call does not ring out", []step{{"bob", "join", 7, ""}, {"", "expire", 0, ""}}, StateActive, "", 0},
		{"a second device of the callee cannot answer too", []step{{"bob", "join", 7, ""}, {"bob", "join", 8, "answered_elsewhere"}}, StateActive, "", 0},
		{"answering twice from the same device changes nothing", []step{{"bob", "join", 7, ""}, {"bob", "join", 7, ""}}, StateActive, "", 0},
		{"a stranger cannot join", []step{{"mallory", "join", 9, "not_found"}}, StateRinging, "", 0},
		{"a stranger cannot decline", []step{{"mallory", "decline", 9, "not_found"}}, StateRinging, "", 0},
		{"joining an ended call is refused", []step{{"bob", "decline", 7, ""}, {"bob", "join", 7, "call_ended"}}, StateEnded, OutcomeDeclined, 0},
		{"hanging up from another device than the one in the call is refused", []step{{"bob", "join", 7, ""}, {"bob", "leave", 8, "answered_elsewhere"}}, StateActive, "", 0},
		{"withdrawing the microphone mid-call ends it", []step{{"bob", "join", 7, ""}, {"bob", "revoke", 7, ""}}, StateEnded, OutcomeCompleted, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := direct()
			for i, s := range tc.steps {
				now := at(5 + 10*i)
				var err error
				switch s.act {
				case "join":
					err = c.Join(s.who, []byte{s.device}, now)
				case "decline":
					err = c.Decline(s.who, now)
				case "leave":
					err = c.Leave(s.who, []byte{s.device}, now)
				case "expire":
					c.Expire(at(45))
				case "revoke":
					c.Revoke(s.who, now)
				}
				if code(err) != s.err {
					t.Fatalf("step %d %s %s: error %q, want %q", i, s.who, s.act, code(err), s.err)
				}
			}
			if c.State != tc.state || c.Outcome != tc.outcome || c.Duration() != tc.duration {
				t.Errorf("state %s outcome %q duration %d, want %s %q %d", c.State, c.Outcome, c.Duration(), tc.state, tc.outcome, tc.duration)
			}
			if c.State == StateEnded {
				r := c.Record()
				if r.State != tc.outcome || r.DurationS != tc.duration || r.Media != MediaVideo {
					t.Errorf("record %+v", r)
				}
			}
		})
	}
}

func TestBusyIsMissed(t *testing.T) {
	c := direct()
	c.Busy(t0)
	if c.State != StateEnded || c.Outcome != OutcomeMissed || c.Reason != ReasonBusy {
		t.Errorf("busy call: %s %s %s", c.State, c.Outcome, c.Reason)
	}
}

func TestRevokeIsRecorded(t *testing.T) {
	c := direct()
	c.Join("bob", []byte{7}, t0)
	c.Revoke("alice", t0.Add(time.Minute))
	if c.Reason != ReasonPermission || c.Duration() != 60 {
		t.Errorf("reason %q duration %d", c.Reason, c.Duration())
	}
}

// R-CAL-2: a group call holds at most nine people, goes on while two remain,
// and is declined only when everyone else declined.
func TestGroupCall(t *testing.T) {
	t.Run("nine people fit, the tenth is refused", func(t *testing.T) {
		c := group(12)
		for i := 1; i < MaxGroup; i++ {
			if err := c.Join(fmt.Sprintf("u%d", i), []byte{byte(i)}, t0); err != nil {
				t.Fatalf("u%d joins: %v", i, err)
			}
		}
		if err := c.Join("u10", []byte{10}, t0); code(err) != "call_full" {
			t.Errorf("tenth joins: %v, want call_full", err)
		}
	})
	t.Run("the call goes on while two remain and ends with the last but one", func(t *testing.T) {
		c := group(4)
		c.Join("u1", []byte{1}, t0)
		c.Join("u2", []byte{2}, t0)
		c.Leave("u0", []byte{0}, t0.Add(time.Second))
		if c.State != StateActive {
			t.Fatalf("after the caller left: %s", c.State)
		}
		c.Leave("u1", []byte{1}, t0.Add(30*time.Second))
		if c.State != StateEnded || c.Outcome != OutcomeCompleted || c.Duration() != 30 {
			t.Errorf("%s %s %d", c.State, c.Outcome, c.Duration())
		}
	})
	t.Run("declined only when every other member declined", func(t *testing.T) {
		c := group(3)
		c.Decline("u1", t0)
		if c.State != StateRinging {
			t.Fatalf("after one of two declined: %s", c.State)
		}
		c.Decline("u2", t0)
		if c.State != StateEnded || c.Outcome != OutcomeDeclined {
			t.Errorf("%s %s", c.State, c.Outcome)
		}
	})
	t.Run("someone who declined may still join", func(t *testing.T) {
		c := group(4)
		c.Decline("u1", t0)
		if err := c.Join("u1", []byte{1}, t0); err != nil || c.State != StateActive {
			t.Errorf("join after decline: %v, %s", err, c.State)
		}
	})
}

func TestRingingIsCountedOnce(t *testing.T) {
	c := direct()
	if !c.Ringing("bob") || c.Ringing("bob") || c.Ringing("mallory") {
		t.Errorf("rung: %v", c.Rung)
	}
	c.Join("bob", []byte{1}, t0)
	if c.Ringing("bob") {
		t.Error("an answered call still counts rings")
	}
}

// The wire form never shows devices.
func TestJSONHidesDevices(t *testing.T) {
	c := direct()
	b, err := json.Marshal(c.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "device") {
		t.Errorf("the wire form of a call shows a device: %s", b)
	}
}

func TestParsePortRange(t *testing.T) {
	for in, ok := range map[string]bool{"": true, "50000-50100": true, "5-4": false, "x-y": false, "0-10": false, "10": false} {
		if _, _, err := ParsePortRange(in); (err == nil) != ok {
			t.Errorf("ParsePortRange(%q) = %v", in, err)
		}
	}
}
