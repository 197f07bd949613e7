package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsClient is a WebSocket client as an app would run one.
type wsClient struct {
	t      *testing.T
	c      *websocket.Conn
	frames chan map[string]any
	closed chan websocket.StatusCode
}

func (s *server) ws(t *testing.T, token string) *wsClient {
	t.Helper()
	return s.wsQuery(t, "token="+token)
}

// wsQuery opens /api/v1/ws?query (token= or ticket=).
func (s *server) wsQuery(t *testing.T, query string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := strings.Replace(s.URL, "http://", "ws://", 1) + "/api/v1/ws?" + query
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatalf("dial ws: %v", err)
	}
	w := &wsClient{t: t, c: c, frames: make(chan map[string]any, 1024), closed: make(chan websocket.StatusCode, 1)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				w.closed <- websocket.CloseStatus(err)
				close(w.frames)
				return
			}
			var m map[string]any
			json.Unmarshal(b, &m)
			w.frames <- m
		}
	}()
	t.Cleanup(func() { c.CloseNow() })
	return w
}

// next returns the next frame whose type is typ, skipping others.
func (w *wsClient) next(typ string) map[string]any {
	w.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m, ok := <-w.frames:
			if !ok {
				w.t.Fatalf("socket closed while waiting for a %s frame", typ)
			}
			if m["type"] == typ {
				return m
			}
		case <-deadline:
			w.t.Fatalf("no %s frame within 10 s", typ)
		}
	}
}

// none checks that no frame of type typ arrives within d.
func (w *wsClient) none(typ string, d time.Duration) {
	w.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m, ok := <-w.frames:
			if !ok {
				return
			}
			if m["type"] == typ {
				w.t.Fatalf("unexpected %s frame: %v", typ, m)
			}
		case <-deadline:
			return
		}
	}
}

func (w *wsClient) send(v any) {
	w.t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, b); err != nil {
		w.t.Fatalf("ws write: %v", err)
	}
}

func (w *wsClient) waitClosed() websocket.StatusCode {
	w.t.Helper()
	select {
	case code := <-w.closed:
		return code
	case <-time.After(10 * time.Second):
		w.t.Fatal("socket not closed within 10 s")
	}
	return 0
}

// R-MSG-4: real-time delivery to every online device of every member, the
// sender's other devices included; ready comes first.
func TestRealtimeDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c, eve := s.register(t, "Ann"), s.register(t, "Cai"), s.register(t, "Eve")
		s.befriend(t, a, c)
		conv := s.direct(t, a, c)
		aPhone := s.ws(t, a.Token)
		aLaptop := s.ws(t, s.login(t, a, "laptop"))
		cPhone := s.ws(t, c.Token)
		eveWS := s.ws(t, eve.Token)
		for _, w := range []*wsClient{aPhone, aLaptop, cPhone, eveWS} {
			if f := <-w.frames; f["type"] != "ready" {
				t.Fatalf("first frame = %v, want ready", f)
			}
		}
		sent := s.send(t, a, conv, "live hello")
		for name, w := range map[string]*wsClient{"Cai's phone": cPhone, "Ann's laptop": aLaptop, "Ann's phone": aPhone} {
			f := w.next("message")
			m := f["message"].(map[string]any)
			if f["conversation_id"] != conv || m["text"] != "live hello" || m["seq"] != sent["seq"] || m["sender_id"] != a.ID {
				t.Errorf("%s got %v", name, f)
			}
		}
		eveWS.none("message", 300*time.Millisecond)

		// Typing and receipts reach the other person.
		cPhone.send(map[string]any{"type": "typing", "conversation_id": conv})
		if f := aLaptop.next("typing"); f["user_id"] != c.ID {
			t.Errorf("typing = %v", f)
		}
		cPhone.send(map[string]any{"type": "ack", "conversation_id": conv, "seq": sent["seq"]})
		if f := aPhone.next("receipt"); f["delivered_seq"] != sent["seq"] || f["user_id"] != c.ID {
			t.Errorf("delivered receipt = %v", f)
		}
		cPhone.send(map[string]any{"type": "read", "conversation_id": conv, "seq": sent["seq"]})
		if f := aPhone.next("receipt"); f["read_seq"] != sent["seq"] {
			t.Errorf("read receipt = %v", f)
		}
		// A frame about someone else's conversation is refused without effect.
		other := s.direct(t, eve, s.registerFriendOf(t, eve))
		cPhone.send(map[string]any{"type": "ack", "conversation_id": other, "seq": 1})
		if f := cPhone.next("error"); f["code"] != "not_found" {
			t.Errorf("ack on a stranger's conversation = %v", f)
		}
		// Recall reaches everyone.
		want(t, s.do(t, a.Token, "POST", fmt.Sprintf("/api/v1/conversations/%s/messages/%v/recall", conv, sent["seq"]), nil), 204, "")
		if f := cPhone.next("recall"); f["seq"] != sent["seq"] {
			t.Errorf("recall frame = %v", f)
		}
	})
}

// registerFriendOf registers someone who becomes p's friend.
func (s *server) registerFriendOf(t *testing.T, p person) person {
	t.Helper()
	q := s.register(t, "Pal")
	s.befriend(t, p, q)
	return q
}

// R-MSG-4: offline messages are stored and synced by seq on reconnect: the
// ready frame says which conversations have news, and acks move it forward.
func TestOfflineSync(t *testing.T) {
	s := startServer(t, "sqlite")
	a, c := s.register(t, "Sender"), s.register(t, "Offline")
	s.befriend(t, a, c)
	conv := s.direct(t, a, c)
	for i := 0; i < 5; i++ {
		s.send(t, a, conv, fmt.Sprint("while you were away ", i))
	}
	w := s.ws(t, c.Token)
	ready := w.next("ready")
	convs := ready["conversations"].([]any)
	if len(convs) != 1 {
		t.Fatalf("ready = %v, want one conversation with news", ready)
	}
	news := convs[0].(map[string]any)
	if news["id"] != conv || news["last_seq"] != float64(5) || news["received_seq"] != float64(0) {
		t.Errorf("news = %v", news)
	}
	got := s.messages(t, c, conv, int(news["received_seq"].(float64)))
	if len(got) != 5 {
		t.Fatalf("pulled %d messages, want 5", len(got))
	}
	w.send(map[string]any{"type": "ack", "conversation_id": conv, "seq": 5})
	// Issue 14: wait for the acknowledgement to be recorded, not for a while.
	waitFor(t, "the ack to be recorded", func() bool {
		for _, c := range s.do(t, c.Token, "GET", "/api/v1/conversations", nil).JSON(t)["conversations"].([]any) {
			if m := c.(map[string]any); m["id"] == conv {
				return m["received_seq"] == float64(5)
			}
		}
		return false
	})
	w.c.Close(websocket.StatusNormalClosure, "")
	w2 := s.ws(t, c.Token)
	if convs := w2.next("ready")["conversations"].([]any); len(convs) != 0 {
		t.Errorf("after acking everything, ready still lists %v", convs)
	}
}

// R-DEV-4, R-MSG-4: signing a device out closes its sockets at once; so does
// destroying the account.
func TestSignOutClosesSockets(t *testing.T) {
	s := startServer(t, "sqlite")
	p := s.register(t, "Sockets")
	tablet := s.login(t, p, "tablet")
	tabletWS := s.ws(t, tablet)
	phoneWS := s.ws(t, p.Token)
	tabletWS.next("ready")
	phoneWS.next("ready")
	want(t, s.do(t, p.Token, "DELETE", "/api/v1/me/devices/tablet", nil), 204, "")
	if code := tabletWS.waitClosed(); code != 4001 {
		t.Errorf("signed-out device's socket closed with %d, want 4001", code)
	}
	phoneWS.none("anything", 200*time.Millisecond)
	want(t, s.do(t, p.Token, "DELETE", "/api/v1/me", map[string]any{"password": p.Password}), 204, "")
	if code := phoneWS.waitClosed(); code != 4001 {
		t.Errorf("destroyed account's socket closed with %d, want 4001", code)
	}
}

// The WebSocket needs a valid token.
func TestWSNeedsAToken(t *testing.T) {
	s := startServer(t, "sqlite")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, strings.Replace(s.URL, "http://", "ws://", 1)+"/api/v1/ws?token=tk_nope", nil)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("dial with a dead token = %v, %v; want 401", resp, err)
	}
}
