package e2e

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/service"
)

// request sends a request frame of type typ with id and the fields of body
// and returns its answer: the next sent or error frame that names id.
func (w *wsClient) request(typ, id string, body map[string]any) map[string]any {
	w.t.Helper()
	f := map[string]any{"type": typ, "id": id}
	for k, v := range body {
		f[k] = v
	}
	w.send(f)
	return w.answer(id)
}

// answer returns the next sent or error frame whose id is id.
func (w *wsClient) answer(id string) map[string]any {
	w.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-w.frames:
			if !ok {
				w.t.Fatalf("socket closed while waiting for the answer to %q", id)
			}
			if (m["type"] == "sent" || m["type"] == "error") && m["id"] == id {
				return m
			}
		case <-deadline:
			w.t.Fatalf("no answer to %q within 10 s", id)
		}
	}
}

// sameMessage fails unless got is the message want: same id, seq, sender,
// text and sent_at.
func sameMessage(t *testing.T, got, want map[string]any) {
	t.Helper()
	for _, k := range []string{"id", "seq", "sender_id", "text", "client_id", "conversation_id"} {
		if got[k] != want[k] {
			t.Errorf("message %s = %v, want %v", k, got[k], want[k])
		}
	}
	if got["sent_at"] != want["sent_at"] {
		t.Errorf("message sent_at = %v, want %v", got["sent_at"], want["sent_at"])
	}
}

// alive checks the socket still answers a ping.
func (w *wsClient) alive() {
	w.t.Helper()
	w.send(map[string]any{"type": "ping"})
	w.next("pong")
}

// sameRefusal fails unless the error frame says what the HTTP answer says:
// its error is the problem document (status, code, detail, type, title),
// and its code and detail are the document's.
func sameRefusal(t *testing.T, http response, frame map[string]any) {
	t.Helper()
	if frame["type"] != "error" {
		t.Fatalf("answer = %v, want an error frame like HTTP's %d %s", frame, http.Status, http.Body)
	}
	problem := http.JSON(t)
	if !reflect.DeepEqual(frame["error"], any(problem)) {
		t.Errorf("error frame's error = %v, want HTTP's problem %v", frame["error"], problem)
	}
	if frame["code"] != problem["code"] || frame["detail"] != problem["detail"] {
		t.Errorf("error frame code/detail = %v / %v, want %v / %v", frame["code"], frame["detail"], problem["code"], problem["detail"])
	}
	if rid, _ := frame["request_id"].(string); len(rid) < 8 {
		t.Errorf("error frame request_id = %q, want the request's id", rid)
	}
}

// R-MSG-3, R-MSG-4: a message sent over the WebSocket is the message HTTP
// would have stored: the next seq, the same answer body, delivered to the
// other member's socket, and a retry of its client_id (over either
// transport) is the same message, not a new one.
func TestSendOverWebSocket(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c := s.register(t, "Ann"), s.register(t, "Cai")
		s.befriend(t, a, c)
		conv := s.direct(t, a, c)
		aws, cws := s.ws(t, a.Token), s.ws(t, c.Token)
		aws.next("ready")
		cws.next("ready")

		first := s.send(t, a, conv, "over HTTP")
		body := map[string]any{"conversation_id": conv, "client_id": "ws-1", "kind": "text", "text": "over the socket"}
		sent := aws.request("send", "f1", body)
		if sent["type"] != "sent" || sent["created"] != true {
			t.Fatalf("answer to a send = %v, want a sent frame with created true", sent)
		}
		msg := sent["message"].(map[string]any)
		if got, want := msg["seq"], first["seq"].(float64)+1; got != want {
			t.Errorf("seq over the socket = %v, want %v (the next after HTTP's)", got, want)
		}
		if msg["text"] != "over the socket" || msg["sender_id"] != a.ID || msg["client_id"] != "ws-1" {
			t.Errorf("sent message = %v", msg)
		}

		t.Run("the other member's socket gets the message frame", func(t *testing.T) {
			cws := cws.on(t)
			for {
				f := cws.next("message")
				if f["conversation_id"] != conv {
					continue
				}
				m := f["message"].(map[string]any)
				if m["seq"] != msg["seq"] {
					continue // the HTTP message's frame
				}
				for _, k := range []string{"id", "seq", "sent_at", "text", "sender_id"} {
					if m[k] != msg[k] {
						t.Errorf("delivered %s = %v, want %v", k, m[k], msg[k])
					}
				}
				break
			}
		})
		t.Run("a retry over either transport is created false with the same message", func(t *testing.T) {
			aws := aws.on(t)
			r := s.do(t, a.Token, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"client_id": "ws-1", "kind": "text", "text": "over the socket"})
			want(t, r, 200, "")
			if got := r.JSON(t); !reflect.DeepEqual(got, msg) {
				t.Errorf("HTTP retry = %v, want the socket's first answer %v", got, msg)
			}
			again := aws.request("send", "f2", body)
			if again["type"] != "sent" || again["created"] != false || !reflect.DeepEqual(again["message"], any(msg)) {
				t.Errorf("retry over the socket = %v, want created false and the first answer %v", again, msg)
			}
			httpFirst := aws.request("send", "f3", map[string]any{"conversation_id": conv, "client_id": first["client_id"], "kind": "text", "text": "over HTTP"})
			if httpFirst["type"] != "sent" || httpFirst["created"] != false || !reflect.DeepEqual(httpFirst["message"], any(first)) {
				t.Errorf("socket retry of HTTP's client_id = %v, want created false and HTTP's 201 body %v", httpFirst, first)
			}
		})
		t.Run("the conversation holds each message once", func(t *testing.T) {
			ms := s.messages(t, c, conv, 0)
			if len(ms) != 2 {
				t.Fatalf("messages = %v, want the HTTP one and the socket one", ms)
			}
			sameMessage(t, ms[1], msg)
		})
	})
}

// R-MSG-2, R-MSG-3: a send frame passes every gate the HTTP route does, and
// each refusal is the one HTTP gives, as a frame: non-members read and write
// nothing, restricted accounts, the socket's rate limit of sends shared with
// HTTP, a major policy update awaiting acceptance (R-POL-1), the cessation
// of the service (R-OPS-3); a frozen account's socket closes (R-SEC-3).
func TestSendOverWebSocketGates(t *testing.T) {
	s := startServer(t, "sqlite", func(c *app.Config) {
		c.Service.PolicyCacheTTL = time.Millisecond
		c.Service.SendsPerMinute = 5
	})
	a, c, eve, fay := s.register(t, "Ann"), s.register(t, "Cai"), s.register(t, "Eve"), s.register(t, "Fay")
	s.befriend(t, a, c)
	s.befriend(t, eve, c)
	s.befriend(t, fay, c)
	mod := s.staff(t, service.RoleModerator)
	conv, ec := s.direct(t, a, c), s.direct(t, eve, c)
	httpSend := func(p person, conv, clientID string) response {
		return s.do(t, p.Token, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"client_id": clientID, "kind": "text", "text": "hi"})
	}
	frameID := 0
	wsSend := func(w *wsClient, conv, clientID string) map[string]any {
		frameID++
		return w.request("send", fmt.Sprint("g", frameID), map[string]any{"conversation_id": conv, "client_id": clientID, "kind": "text", "text": "hi"})
	}

	t.Run("someone else's conversation is not_found", func(t *testing.T) {
		ews := s.ws(t, eve.Token)
		ews.next("ready")
		r := httpSend(eve, conv, "eve-1")
		want(t, r, 404, "not_found")
		sameRefusal(t, r, wsSend(ews, conv, "eve-2"))
		sameRefusal(t, s.do(t, eve.Token, "POST", "/api/v1/conversations/no-such-conv/messages", map[string]any{"client_id": "eve-3", "kind": "text", "text": "hi"}),
			wsSend(ews, "no-such-conv", "eve-4"))
		ews.alive()
	})

	t.Run("the per-person send rate limit counts both transports", func(t *testing.T) {
		cws := s.ws(t, c.Token)
		cws.next("ready")
		for i := range 5 {
			var ok bool
			if i%2 == 0 {
				ok = wsSend(cws, conv, fmt.Sprint("rl-", i))["type"] == "sent"
			} else {
				ok = httpSend(c, conv, fmt.Sprint("rl-", i)).Status == 201
			}
			if !ok {
				t.Fatalf("send %d of the 5 a minute allows was refused", i+1)
			}
		}
		r := httpSend(c, conv, "rl-http")
		want(t, r, 429, "rate_limited")
		f := wsSend(cws, conv, "rl-ws")
		sameRefusal(t, r, f)
		if ra, _ := f["retry_after"].(float64); ra < 1 || fmt.Sprint(ra) != r.Header.Get("Retry-After") {
			t.Errorf("retry_after = %v, want HTTP's Retry-After %q", f["retry_after"], r.Header.Get("Retry-After"))
		}
		// A retry of a stored client_id is answered before the limit.
		if again := wsSend(cws, conv, "rl-0"); again["type"] != "sent" || again["created"] != false {
			t.Errorf("retry while rate limited = %v, want the stored message", again)
		}
	})

	t.Run("a restricted account is refused as over HTTP", func(t *testing.T) {
		want(t, s.do(t, mod.Token, "POST", "/api/v1/admin/moderation-actions", map[string]any{"user_id": a.ID, "action": "restrict", "days": 1,
			"reason": "Testing that sockets honour restrictions."}), 201, "")
		aws := s.ws(t, a.Token)
		aws.next("ready")
		r := httpSend(a, conv, "restricted-1")
		want(t, r, 403, "account_restricted")
		sameRefusal(t, r, wsSend(aws, conv, "restricted-2"))
		aws.alive()
	})

	t.Run("a frozen account's socket closes with 4001 and its session sends nothing", func(t *testing.T) {
		p := fay
		pc := s.direct(t, p, c)
		pws := s.ws(t, p.Token)
		pws.next("ready")
		want(t, s.do(t, p.Token, "POST", "/api/v1/me/freeze", nil), 204, "")
		if code := pws.waitClosed(); code != 4001 {
			t.Errorf("socket closed with %v, want 4001", code)
		}
		want(t, httpSend(p, pc, "frozen-1"), 401, "unauthenticated")
		want(t, s.do(t, p.Token, "GET", "/api/v1/ws", nil), 401, "unauthenticated")
	})

	t.Run("a major policy update refuses sends on a socket opened before it", func(t *testing.T) {
		ews := s.ws(t, eve.Token)
		ews.next("ready")
		withApp(t, s, func(a *app.App) {
			if _, err := a.Service.PublishPolicy(context.Background(), "2", true, "more processing"); err != nil {
				t.Fatal(err)
			}
		})
		var r response
		waitFor(t, "the policy gate", func() bool {
			r = httpSend(eve, ec, "policy-1")
			return r.Status == 409
		})
		want(t, r, 409, "policy_acceptance_required")
		sameRefusal(t, r, wsSend(ews, ec, "policy-2"))
		want(t, s.do(t, eve.Token, "POST", "/api/v1/policy/accept", map[string]any{"version": "2"}), 204, "")
		if f := wsSend(ews, ec, "policy-3"); f["type"] != "sent" {
			t.Errorf("send after accepting = %v, want sent", f)
		}
	})

	t.Run("the cessation of the service refuses sends as over HTTP", func(t *testing.T) {
		ews := s.ws(t, eve.Token)
		ews.next("ready")
		withApp(t, s, func(a *app.App) {
			if _, err := a.Service.Cease(context.Background(), 30, ""); err != nil {
				t.Fatal(err)
			}
		})
		var r response
		waitFor(t, "the cessation gate", func() bool {
			r = httpSend(eve, ec, "cease-1")
			return r.Status == 403
		})
		want(t, r, 403, "service_ceasing")
		sameRefusal(t, r, wsSend(ews, ec, "cease-2"))
	})
}

// R-SEC-5, R-MSG-3: hostile send frames get error frames (with the frame's
// id when it gave a usable one), never a dropped socket or a 500; the same
// body over HTTP gets the same problem.
func TestSendOverWebSocketHostileFrames(t *testing.T) {
	s := startServer(t, "sqlite")
	a, c := s.register(t, "Ann"), s.register(t, "Cai")
	s.befriend(t, a, c)
	conv := s.direct(t, a, c)
	w := s.ws(t, a.Token)
	w.next("ready")

	t.Run("frames without a usable id are refused without one", func(t *testing.T) {
		w := w.on(t)
		for _, f := range []string{`{"type":"send"}`, `{"type":"send","id":7,"conversation_id":"` + conv + `"}`, `{"type":"send","id":""}`,
			`{"type":"send","id":"` + strings.Repeat("x", 200) + `"}`, `{"type":"send","id":null}`} {
			w.raw(f)
			e := w.next("error")
			if e["code"] != "invalid_field" || e["id"] != nil {
				t.Errorf("%.60s -> %v, want invalid_field without an id", f, e)
			}
			w.alive()
		}
	})
	t.Run("malformed JSON is malformed_json", func(t *testing.T) {
		w := w.on(t)
		w.raw(`{"type":"send","id":"m1",`)
		if e := w.next("error"); e["code"] != "malformed_json" {
			t.Errorf("answer = %v, want malformed_json", e)
		}
		w.alive()
	})
	for _, tt := range []struct {
		name  string
		frame map[string]any
		code  string
	}{
		{"a missing conversation_id", map[string]any{"client_id": "h1", "kind": "text", "text": "x"}, "missing_field"},
		{"a conversation_id that is not a string", map[string]any{"conversation_id": 12, "client_id": "h2", "kind": "text", "text": "x"}, "invalid_field"},
		{"an empty conversation_id", map[string]any{"conversation_id": "", "client_id": "h3", "kind": "text", "text": "x"}, "invalid_field"},
	} {
		t.Run(tt.name+" is "+tt.code, func(t *testing.T) {
			w := w.on(t)
			f := w.request("send", "e-"+tt.code+tt.name, tt.frame)
			if f["type"] != "error" || f["code"] != tt.code {
				t.Errorf("answer = %v, want error %s", f, tt.code)
			}
			w.alive()
		})
	}
	// Whatever the route itself refuses is refused identically.
	for _, tt := range []struct {
		name string
		body map[string]any
		path string // the conversation, when not conv
	}{
		{name: "an unknown field", body: map[string]any{"client_id": "u1", "kind": "text", "text": "x", "admin": true}},
		{name: "a field of the wrong type", body: map[string]any{"client_id": "u2", "kind": "text", "text": 5}},
		{name: "no client_id", body: map[string]any{"kind": "text", "text": "x"}},
		{name: "an unknown kind", body: map[string]any{"client_id": "u3", "kind": "hologram", "text": "x"}},
		{name: "text over the limit", body: map[string]any{"client_id": "u4", "kind": "text", "text": strings.Repeat("y", 6000)}},
		{name: "a location without the permission", body: map[string]any{"client_id": "u5", "kind": "location", "location": map[string]any{"lat": 1, "lng": 2}}},
		{name: "a conversation id with path characters", body: map[string]any{"client_id": "u6", "kind": "text", "text": "x"}, path: "a b?c"},
	} {
		t.Run(tt.name+" is refused as over HTTP", func(t *testing.T) {
			w := w.on(t)
			target := conv
			if tt.path != "" {
				target = tt.path
			}
			frame := map[string]any{"conversation_id": target}
			for k, v := range tt.body {
				frame[k] = v
			}
			f := w.request("send", "x-"+tt.name, frame)
			r := s.do(t, a.Token, "POST", "/api/v1/conversations/"+strings.ReplaceAll(strings.ReplaceAll(target, " ", "%20"), "?", "%3F")+"/messages", tt.body)
			if r.Status < 400 || r.Status >= 500 {
				t.Fatalf("HTTP answered %d %s, want a 4xx", r.Status, r.Body)
			}
			sameRefusal(t, r, f)
			w.alive()
		})
	}
	t.Run("a send frame in fragments is one request", func(t *testing.T) {
		w := w.on(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		wr, err := w.c.Writer(ctx, websocket.MessageText)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{`{"type":"send","id":"frag",`, `"conversation_id":"` + conv + `",`, `"client_id":"frag","kind":"text","text":"in pieces"}`} {
			if _, err := wr.Write([]byte(part)); err != nil {
				t.Fatal(err)
			}
		}
		if err := wr.Close(); err != nil {
			t.Fatal(err)
		}
		if f := w.answer("frag"); f["type"] != "sent" || f["message"].(map[string]any)["text"] != "in pieces" {
			t.Errorf("answer = %v, want the message sent", f)
		}
	})
	t.Run("a frame over the socket's limit closes it with 1009", func(t *testing.T) {
		big := s.ws(t, a.Token)
		big.next("ready")
		big.raw(`{"type":"send","id":"big","conversation_id":"` + conv + `","client_id":"big","kind":"text","text":"` + strings.Repeat("z", 70<<10) + `"}`)
		if code := big.waitClosed(); code != websocket.StatusMessageTooBig {
			t.Errorf("closed with %v, want %v", code, websocket.StatusMessageTooBig)
		}
		w.on(t).alive()
	})
	if strings.Contains(s.Log.String(), "panic") || strings.Contains(s.Log.String(), "unhandled error") {
		t.Errorf("the server log shows a panic or an unhandled error:\n%s", s.Log.String())
	}
}

// raw writes frame as it is.
func (w *wsClient) raw(frame string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		w.t.Fatalf("ws write: %v", err)
	}
}

// on returns w reporting failures to t (a subtest), reading the same socket.
func (w *wsClient) on(t *testing.T) *wsClient {
	c := *w
	c.t = t
	return &c
}
