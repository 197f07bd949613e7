package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// grant gives p the named device permissions.
func (s *server) grant(t testing.TB, p person, names ...string) {
	t.Helper()
	for _, n := range names {
		want(t, s.do(t, p.Token, "PUT", "/api/v1/me/permissions/"+n, map[string]any{"granted": true}), 200, "")
	}
}

// callFrame waits for a call frame of call id in state.
func (w *wsClient) callFrame(id, state string) map[string]any {
	w.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-w.frames:
			if !ok {
				w.t.Fatalf("socket closed while waiting for call %s to be %s", id, state)
			}
			if m["type"] != "call" {
				continue
			}
			c := m["call"].(map[string]any)
			if c["id"] == id && c["state"] == state {
				return c
			}
		case <-deadline:
			w.t.Fatalf("call %s did not become %s within 10 s", id, state)
		}
	}
}

// callRecord waits for the call record message of a conversation.
func (w *wsClient) callRecord() map[string]any {
	w.t.Helper()
	for {
		f := w.next("message")
		if m := f["message"].(map[string]any); m["kind"] == "call" {
			return m["call"].(map[string]any)
		}
	}
}

// errorFrame waits for an error frame and returns its code.
func (w *wsClient) errorCode() string {
	w.t.Helper()
	return w.next("error")["code"].(string)
}

func shortRing(c *app.Config) { c.CallRingTimeout = "1s" }

// R-CAL-1, R-CAL-3: starting needs the microphone (and the camera for
// video); only members may call; ringing on every device of the callee,
// accepting on one stops the others, signals go only between the devices in
// the call; hang-up, decline, missed, cancelled and busy leave the right
// records; withdrawing the microphone ends the call.
func TestCalls(t *testing.T) {
	s := startServer(t, "sqlite", shortRing)
	a, b, c, eve := s.register(t, "Ann"), s.register(t, "Bo"), s.register(t, "Cy"), s.register(t, "Eve")
	s.befriend(t, a, b)
	s.befriend(t, c, b)
	conv := s.direct(t, a, b)
	convCB := s.direct(t, c, b)

	// Permissions come first (R-CAL-3).
	want(t, s.do(t, a.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "audio"}), 403, "permission_revoked")
	s.grant(t, a, "microphone")
	want(t, s.do(t, a.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "video"}), 403, "permission_revoked")
	s.grant(t, a, "camera")
	s.grant(t, b, "microphone", "camera")
	s.grant(t, c, "microphone")
	s.grant(t, eve, "microphone")
	// Someone else's conversation does not exist for a stranger.
	want(t, s.do(t, eve.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "audio"}), 404, "not_found")
	want(t, s.do(t, a.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "smell"}), 422, "invalid_media")

	aWS := s.ws(t, a.Token)
	bPhone := s.ws(t, b.Token)
	bLaptopToken := s.login(t, b, "laptop")
	bLaptop := s.ws(t, bLaptopToken)
	eveWS := s.ws(t, eve.Token)
	for _, w := range []*wsClient{aWS, bPhone, bLaptop, eveWS} {
		w.next("ready")
	}

	r := s.do(t, a.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "video"})
	want(t, r, 201, "")
	call := r.JSON(t)["call"].(map[string]any)
	id := call["id"].(string)
	if call["state"] != "ringing" || call["initiator_id"] != a.ID {
		t.Fatalf("started call = %v", call)
	}
	// Both of Bo's devices ring; Eve hears nothing.
	bPhone.callFrame(id, "ringing")
	bLaptop.callFrame(id, "ringing")
	eveWS.none("call", 200*time.Millisecond)
	// Eve cannot see, join, decline or signal in it.
	want(t, s.do(t, eve.Token, "GET", "/api/v1/calls/"+id, nil), 404, "not_found")
	want(t, s.do(t, eve.Token, "POST", "/api/v1/calls/"+id+"/join", nil), 404, "not_found")
	want(t, s.do(t, eve.Token, "POST", "/api/v1/calls/"+id+"/decline", nil), 404, "not_found")
	eveWS.send(map[string]any{"type": "call_signal", "call_id": id, "signal": map[string]any{"type": "offer", "sdp": "x"}})
	if code := eveWS.errorCode(); code != "not_found" {
		t.Errorf("Eve's signal: %s, want not_found", code)
	}
	// Bo, not yet in the call, cannot signal either.
	bPhone.send(map[string]any{"type": "call_signal", "call_id": id, "signal": map[string]any{"type": "answer"}})
	if code := bPhone.errorCode(); code != "not_in_call" {
		t.Errorf("signal before joining: %s, want not_in_call", code)
	}

	// Bo answers on the phone: everyone sees the call active with Bo in it,
	// which stops the laptop ringing; the laptop cannot answer too.
	r = s.do(t, b.Token, "POST", "/api/v1/calls/"+id+"/join", nil)
	want(t, r, 200, "")
	aWS.callFrame(id, "active")
	if got := bLaptop.callFrame(id, "active"); len(got["participants"].([]any)) != 2 {
		t.Errorf("active call participants = %v", got["participants"])
	}
	want(t, s.do(t, bLaptopToken, "POST", "/api/v1/calls/"+id+"/join", nil), 409, "answered_elsewhere")

	// Signals reach only the other device in the call.
	aWS.send(map[string]any{"type": "call_signal", "call_id": id, "signal": map[string]any{"type": "offer", "sdp": "v=0"}})
	if f := bPhone.next("call_signal"); f["from"] != a.ID || f["signal"].(map[string]any)["sdp"] != "v=0" {
		t.Errorf("signal at Bo's phone = %v", f)
	}
	bLaptop.none("call_signal", 200*time.Millisecond)
	bLaptop.send(map[string]any{"type": "call_signal", "call_id": id, "signal": map[string]any{"type": "answer"}})
	if code := bLaptop.errorCode(); code != "not_in_call" {
		t.Errorf("signal from the device not in the call: %s", code)
	}
	aWS.send(map[string]any{"type": "call_signal", "call_id": id, "to": eve.ID, "signal": map[string]any{"type": "offer"}})
	if code := aWS.errorCode(); code != "peer_not_in_call" {
		t.Errorf("signal to a non-participant: %s", code)
	}
	eveWS.none("call_signal", 200*time.Millisecond)
	for _, bad := range []map[string]any{
		{"type": "call_signal", "call_id": id, "signal": "not an object"},
		{"type": "call_signal", "call_id": id},
		{"type": "call_signal", "signal": map[string]any{}},
	} {
		aWS.send(bad)
		if code := aWS.errorCode(); code != "invalid_signal" && code != "invalid_call" {
			t.Errorf("hostile frame %v: %s", bad, code)
		}
	}
	// A flood is cut off: past the burst (30; the socket's own limit is
	// 40), signals are refused, not relayed, and the socket stays open.
	refused := 0
	for range 45 {
		aWS.send(map[string]any{"type": "call_signal", "call_id": id, "signal": map[string]any{"type": "candidate"}})
	}
	deadline := time.After(10 * time.Second)
	relayed := 0
flood:
	for {
		select {
		case f := <-aWS.frames:
			if f["type"] == "error" && f["code"] == "rate_limited" {
				refused++
			}
		case f := <-bPhone.frames:
			if f["type"] == "call_signal" {
				relayed++
			}
		case <-deadline:
			break flood
		}
		if relayed+refused >= 45 {
			break
		}
	}
	if refused < 10 || relayed > 32 {
		t.Errorf("flood of 45 signals: %d relayed, %d refused", relayed, refused)
	}

	// Cy calling Bo while Bo is in a call: busy, recorded as missed.
	cWS := s.ws(t, c.Token)
	cWS.next("ready")
	r = s.do(t, c.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": convCB, "media": "audio"})
	want(t, r, 201, "")
	if got := r.JSON(t)["call"].(map[string]any); got["state"] != "ended" || got["reason"] != "busy" || got["outcome"] != "missed" {
		t.Errorf("call to a busy person = %v", got)
	}
	if rec := cWS.callRecord(); rec["state"] != "missed" || rec["reason"] != "busy" {
		t.Errorf("busy record = %v", rec)
	}

	// Ann hangs up: completed, with a duration, in the chat for both.
	time.Sleep(1100 * time.Millisecond) // a call of at least a second
	want(t, s.do(t, a.Token, "POST", "/api/v1/calls/"+id+"/leave", nil), 200, "")
	ended := bPhone.callFrame(id, "ended")
	if ended["outcome"] != "completed" {
		t.Errorf("ended = %v", ended)
	}
	rec := bPhone.callRecord()
	if rec["state"] != "completed" || rec["media"] != "video" || rec["duration_s"].(float64) < 1 {
		t.Errorf("record = %v", rec)
	}
	aWS.callRecord()
	want(t, s.do(t, a.Token, "GET", "/api/v1/calls/"+id, nil), 404, "not_found")

	// Declined, missed (the 1 s ring timeout of this server), cancelled.
	for _, tc := range []struct{ name, outcome string }{{"decline", "declined"}, {"ring out", "missed"}, {"cancel", "cancelled"}} {
		r := s.do(t, a.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "audio"})
		want(t, r, 201, "")
		id := r.JSON(t)["call"].(map[string]any)["id"].(string)
		bPhone.callFrame(id, "ringing")
		switch tc.name {
		case "decline":
			want(t, s.do(t, b.Token, "POST", "/api/v1/calls/"+id+"/decline", nil), 200, "")
		case "cancel":
			want(t, s.do(t, a.Token, "POST", "/api/v1/calls/"+id+"/leave", nil), 200, "")
		}
		if rec := aWS.callRecord(); rec["state"] != tc.outcome || rec["duration_s"] != float64(0) {
			t.Errorf("%s: record %v, want %s", tc.name, rec, tc.outcome)
		}
	}
	msgs := s.messages(t, b, conv, 0)
	var states []string
	for _, m := range msgs {
		if m["kind"] == "call" {
			states = append(states, m["call"].(map[string]any)["state"].(string))
		}
	}
	if len(states) != 4 || states[0] != "completed" || states[1] != "declined" || states[2] != "missed" || states[3] != "cancelled" {
		t.Errorf("call records in the chat: %v", states)
	}
	// Clients cannot forge a call record.
	want(t, s.do(t, a.Token, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"client_id": "forged", "kind": "call"}), 422, "invalid_kind")

	// Withdrawing the microphone mid-call takes the person out (R-CAL-3).
	r = s.do(t, a.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "audio"})
	want(t, r, 201, "")
	id = r.JSON(t)["call"].(map[string]any)["id"].(string)
	want(t, s.do(t, b.Token, "POST", "/api/v1/calls/"+id+"/join", nil), 200, "")
	aWS.callFrame(id, "active")
	want(t, s.do(t, b.Token, "PUT", "/api/v1/me/permissions/microphone", map[string]any{"granted": false}), 200, "")
	if got := aWS.callFrame(id, "ended"); got["reason"] != "permission_revoked" {
		t.Errorf("after Bo withdrew the microphone: %v", got)
	}
	want(t, s.do(t, b.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "audio"}), 403, "permission_revoked")
}

// R-CAL-1 across nodes: the caller on node 1, the callee on node 2; ringing,
// answering and signals cross over the bus. R-CAL-2 across nodes: a group
// call's SFU lives on the node that started it; a participant on the other
// node reaches it through the bus and its offers come back the same way.
func TestCallAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	nodes := startNodes(t, 2)
	n1, n2 := nodes[0], nodes[1]
	a := n1.register(t, "Caller")
	b := n2.register(t, "Callee")
	n1.befriend(t, a, b)
	conv := n1.direct(t, a, b)
	n1.grant(t, a, "microphone")
	n2.grant(t, b, "microphone")
	aWS, bWS := n1.ws(t, a.Token), n2.ws(t, b.Token)
	aWS.next("ready")
	bWS.next("ready")
	r := n1.do(t, a.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": conv, "media": "audio"})
	want(t, r, 201, "")
	id := r.JSON(t)["call"].(map[string]any)["id"].(string)
	bWS.callFrame(id, "ringing")
	want(t, n2.do(t, b.Token, "POST", "/api/v1/calls/"+id+"/join", nil), 200, "")
	aWS.callFrame(id, "active")
	aWS.send(map[string]any{"type": "call_signal", "call_id": id, "signal": map[string]any{"type": "offer", "sdp": "from node 1"}})
	if f := bWS.next("call_signal"); f["signal"].(map[string]any)["sdp"] != "from node 1" {
		t.Errorf("signal on node 2 = %v", f)
	}
	bWS.send(map[string]any{"type": "call_signal", "call_id": id, "signal": map[string]any{"type": "answer", "sdp": "from node 2"}})
	if f := aWS.next("call_signal"); f["signal"].(map[string]any)["sdp"] != "from node 2" {
		t.Errorf("signal on node 1 = %v", f)
	}
	want(t, n2.do(t, b.Token, "POST", "/api/v1/calls/"+id+"/leave", nil), 200, "")
	if rec := aWS.callRecord(); rec["state"] != "completed" {
		t.Errorf("record = %v", rec)
	}

	// A group call started on node 1; Cy, on node 2, joins and says hello
	// to the SFU (on node 1): its offer reaches Cy's socket on node 2.
	c := n2.register(t, "Group member")
	n1.befriend(t, a, c)
	n2.grant(t, c, "microphone")
	g := n1.do(t, a.Token, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "name": "Across", "members": []string{b.ID, c.ID}})
	want(t, g, 201, "")
	r = n1.do(t, a.Token, "POST", "/api/v1/calls", map[string]any{"conversation_id": g.str(t, "id"), "media": "audio"})
	want(t, r, 201, "")
	gid := r.JSON(t)["call"].(map[string]any)["id"].(string)
	cWS := n2.ws(t, c.Token)
	cWS.next("ready")
	// Bo, rung but not in the call, may not signal the SFU.
	bWS.callFrame(gid, "ringing")
	bWS.send(map[string]any{"type": "call_signal", "call_id": gid, "to": "sfu", "signal": map[string]any{"type": "hello"}})
	if code := bWS.errorCode(); code != "not_in_call" {
		t.Errorf("hello from a member not in the call: %s, want not_in_call", code)
	}
	want(t, n2.do(t, c.Token, "POST", "/api/v1/calls/"+gid+"/join", nil), 200, "")
	cWS.send(map[string]any{"type": "call_signal", "call_id": gid, "to": "sfu", "signal": map[string]any{"type": "hello"}})
	f := cWS.next("call_signal")
	if sig := f["signal"].(map[string]any); f["from"] != "sfu" || sig["type"] != "offer" || !strings.Contains(sig["sdp"].(string), "m=audio") {
		t.Errorf("the SFU's answer to a hello across nodes = %v", f)
	}
	// Ann hangs up on node 1: one person left, the call ends, on node 2 too.
	want(t, n1.do(t, a.Token, "POST", "/api/v1/calls/"+gid+"/leave", nil), 200, "")
	if ended := cWS.callFrame(gid, "ended"); ended["outcome"] != "completed" {
		t.Errorf("group call after the caller left = %v", ended)
	}
}
