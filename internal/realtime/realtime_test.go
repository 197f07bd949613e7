package realtime_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/realtime"
)

// wait bounds every wait in these tests; nothing here should take longer.
const wait = 10 * time.Second

// testBus is an in-process tkesj.Bus: Publish calls every subscriber in
// turn, in publish order, and returns once they have all been called.
type testBus struct {
	mu   sync.Mutex
	next int
	subs map[int]func(tkesj.Event)
}

func newTestBus() *testBus { return &testBus{subs: make(map[int]func(tkesj.Event))} }

func (b *testBus) Publish(ctx context.Context, e tkesj.Event) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, fn := range b.subs {
		fn(e)
	}
	return nil
}

func (b *testBus) Subscribe(fn func(tkesj.Event)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	b.subs[id] = fn
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs, id)
	}, nil
}

func (b *testBus) Close() error { return nil }

func (b *testBus) MustPublish(tb testing.TB, e tkesj.Event) {
	tb.Helper()
	if err := b.Publish(context.Background(), e); err != nil {
		tb.Fatalf("Publish = %v", err)
	}
}

// testHandler answers ready with {"type":"ready","user":...} and records
// client frames. Frames of type "forbidden" and "crash" fail.
type testHandler struct {
	gate   chan struct{} // when set, ReadyFrame waits for it to close
	frames chan []byte   // client frames, as received
}

func (h *testHandler) ReadyFrame(ctx context.Context, userID string) ([]byte, error) {
	if h.gate != nil {
		select {
		case <-h.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	switch userID {
	case "signed-out":
		return nil, tkesj.Errorf(tkesj.EUnauthenticated, "session_ended", "sign in again")
	case "broken":
		return nil, errors.New("database on fire")
	}
	return []byte(`{"type":"ready","user":"` + userID + `"}`), nil
}

func (h *testHandler) ClientFrame(ctx context.Context, userID string, deviceIdx []byte, frame []byte) error {
	select {
	case h.frames <- bytes.Clone(frame):
	default:
	}
	var f struct{ Type string }
	_ = json.Unmarshal(frame, &f)
	switch f.Type {
	case "forbidden":
		return tkesj.Errorf(tkesj.EForbidden, "not_a_member", "you are not in this conversation")
	case "crash":
		return errors.New("database on fire")
	case "panic":
		panic("handler bug")
	}
	return nil
}

// testRequests answers request frames of type "echo" with {"type":"echoed",
// "frame":<the frame>}; one of type "explode" panics, and one of type
// "vanish" gets no answer. Every other frame is not a request.
func testRequests(ctx context.Context, typ string, frame []byte) ([]byte, bool) {
	switch typ {
	case "echo":
		return []byte(`{"type":"echoed","frame":` + string(frame) + `}`), true
	case "explode":
		panic("request handler bug")
	case "vanish":
		return nil, true
	}
	return nil, false
}

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rig is a hub behind a real HTTP server. The server takes the person and
// the device (hex) from the query, standing in for authentication.
type rig struct {
	hub      *realtime.Hub
	bus      *testBus
	handler  *testHandler
	srv      *httptest.Server
	logs     *lockedBuffer
	returned atomic.Int64 // ServeWS calls that have returned
}

// newRig starts a hub that logs everything, down to debug, into r.logs.
func newRig(tb testing.TB, opts realtime.Options, gate chan struct{}) *rig {
	tb.Helper()
	logs := &lockedBuffer{}
	return startRig(tb, opts, gate, logs, slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newQuietRig starts a hub that logs nothing, for measurements.
func newQuietRig(tb testing.TB, opts realtime.Options) *rig {
	tb.Helper()
	return startRig(tb, opts, nil, &lockedBuffer{}, slog.DiscardHandler)
}

func startRig(tb testing.TB, opts realtime.Options, gate chan struct{}, logs *lockedBuffer, lh slog.Handler) *rig {
	tb.Helper()
	r := &rig{
		bus:     newTestBus(),
		handler: &testHandler{gate: gate, frames: make(chan []byte, 64)},
		logs:    logs,
	}
	hub, err := realtime.New(r.bus, r.handler, slog.New(lh), opts)
	if err != nil {
		tb.Fatalf("New = %v", err)
	}
	r.hub = hub
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		dev, _ := hex.DecodeString(req.URL.Query().Get("device"))
		hub.ServeWS(w, req, realtime.Peer{UserID: req.URL.Query().Get("user"), DeviceIdx: dev, Requests: testRequests})
		r.returned.Add(1)
	}))
	tb.Cleanup(func() {
		if err := hub.Close(); err != nil {
			tb.Errorf("Close = %v", err)
		}
		r.srv.Close()
	})
	return r
}

func (r *rig) url(user, device string) string {
	return "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/ws?user=" + user + "&device=" + device
}

// dial connects as user on device without reading anything.
func (r *rig) dial(tb testing.TB, user, device string, opts *websocket.DialOptions) *websocket.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, r.url(user, device), opts)
	if err != nil {
		tb.Fatalf("Dial(%s/%s) = %v", user, device, err)
	}
	c.SetReadLimit(1 << 20)
	tb.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// connect dials and reads the ready frame.
func (r *rig) connect(tb testing.TB, user, device string) *websocket.Conn {
	tb.Helper()
	c := r.dial(tb, user, device, nil)
	if got := frameType(tb, mustRead(tb, c)); got != "ready" {
		tb.Fatalf("first frame for %s/%s has type %q, want ready", user, device, got)
	}
	return c
}

func mustRead(tb testing.TB, c *websocket.Conn) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		tb.Fatalf("Read = %v, want a frame", err)
	}
	if typ != websocket.MessageText {
		tb.Fatalf("Read gave a %v frame, want text", typ)
	}
	return b
}

func mustWrite(tb testing.TB, c *websocket.Conn, typ websocket.MessageType, b []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Write(ctx, typ, b); err != nil {
		tb.Fatalf("Write(%s) = %v", b, err)
	}
}

// readUntilClosed reads (and returns) frames until the server closes the
// connection, and returns its close status.
func readUntilClosed(tb testing.TB, c *websocket.Conn) ([][]byte, websocket.StatusCode) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var frames [][]byte
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				tb.Fatalf("connection still open after %v", wait)
			}
			return frames, websocket.CloseStatus(err)
		}
		frames = append(frames, b)
	}
}

func frameType(tb testing.TB, b []byte) string {
	tb.Helper()
	var f struct{ Type string }
	if err := json.Unmarshal(b, &f); err != nil {
		tb.Fatalf("frame %s is not JSON: %v", b, err)
	}
	return f.Type
}

func errorCode(tb testing.TB, b []byte) (code, detail string) {
	tb.Helper()
	var f struct{ Type, Code, Detail string }
	if err := json.Unmarshal(b, &f); err != nil || f.Type != "error" {
		tb.Fatalf("frame %s is not an error frame", b)
	}
	return f.Code, f.Detail
}

// waitFor polls cond until it holds, failing after wait.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("still waiting after %v for %s", wait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// reader reads a connection on a goroutine, as a real client does (it must,
// for pings and the close handshake to be answered).
type reader struct {
	frames chan []byte
	closed chan websocket.StatusCode
}

func startReader(c *websocket.Conn) *reader {
	r := &reader{frames: make(chan []byte, 1024), closed: make(chan websocket.StatusCode, 1)}
	go func() {
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				r.closed <- websocket.CloseStatus(err)
				return
			}
			r.frames <- b
		}
	}()
	return r
}

func (r *reader) next(tb testing.TB) []byte {
	tb.Helper()
	select {
	case b := <-r.frames:
		return b
	case code := <-r.closed:
		tb.Fatalf("connection closed with %v, want a frame", code)
	case <-time.After(wait):
		tb.Fatalf("no frame after %v", wait)
	}
	return nil
}

func (r *reader) closeStatus(tb testing.TB) websocket.StatusCode {
	tb.Helper()
	select {
	case code := <-r.closed:
		return code
	case <-time.After(wait):
		tb.Fatalf("connection still open after %v", wait)
	}
	return 0
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		bus     tkesj.Bus
		handler realtime.Handler
		opts    realtime.Options
		wantErr bool
	}{
		{"zero options take their defaults", newTestBus(), &testHandler{}, realtime.Options{}, false},
		{"a hub needs a bus", nil, &testHandler{}, realtime.Options{}, true},
		{"a hub needs a handler", newTestBus(), nil, realtime.Options{}, true},
		{"a negative queue is refused", newTestBus(), &testHandler{}, realtime.Options{SendQueue: -1}, true},
		{"a negative rate is refused", newTestBus(), &testHandler{}, realtime.Options{FramesPerSec: -1}, true},
		{"a negative timeout is refused", newTestBus(), &testHandler{}, realtime.Options{WriteTimeout: -time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub, err := realtime.New(tt.bus, tt.handler, nil, tt.opts)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New(%+v) error = %v, want error %v", tt.opts, err, tt.wantErr)
			}
			if err == nil {
				if err := hub.Close(); err != nil {
					t.Errorf("Close = %v", err)
				}
			}
		})
	}
}

func TestDelivery(t *testing.T) {
	r := newRig(t, realtime.Options{}, nil)
	a1 := r.connect(t, "a", "01")
	a2 := r.connect(t, "a", "02")
	b1 := r.connect(t, "b", "01")

	t.Run("an event for a person reaches all of their connections, bytes unchanged", func(t *testing.T) {
		// Odd spacing, escapes and non-ASCII text must survive as they are.
		frame := []byte(`{"type":"message",  "conversation_id":"c1","message":{"seq":1,"text":"h\u00e9llo \"w\" 🌍"}}`)
		r.bus.MustPublish(t, tkesj.Event{Users: []string{"a"}, Frame: frame})
		for i, c := range []*websocket.Conn{a1, a2} {
			if got := mustRead(t, c); !bytes.Equal(got, frame) {
				t.Errorf("connection %d of a got %s, want %s", i+1, got, frame)
			}
		}
	})
	t.Run("an event for one person does not reach another", func(t *testing.T) {
		marker := []byte(`{"type":"marker","for":"b"}`)
		r.bus.MustPublish(t, tkesj.Event{Users: []string{"b"}, Frame: marker})
		// b's next frame is the marker: the event for a never came.
		if got := mustRead(t, b1); !bytes.Equal(got, marker) {
			t.Errorf("b got %s, want %s", got, marker)
		}
	})
	t.Run("an event for several people reaches each of them once", func(t *testing.T) {
		frame := []byte(`{"type":"receipt","seq":2}`)
		r.bus.MustPublish(t, tkesj.Event{Users: []string{"a", "b", "nobody-here"}, Frame: frame})
		for _, c := range []*websocket.Conn{a1, a2, b1} {
			if got := mustRead(t, c); !bytes.Equal(got, frame) {
				t.Errorf("got %s, want %s", got, frame)
			}
		}
		marker := []byte(`{"type":"marker"}`)
		r.bus.MustPublish(t, tkesj.Event{Users: []string{"a", "b"}, Frame: marker})
		for _, c := range []*websocket.Conn{a1, a2, b1} {
			if got := mustRead(t, c); !bytes.Equal(got, marker) {
				t.Errorf("after one event got %s, want the marker %s", got, marker)
			}
		}
	})
	t.Run("an event without a frame sends nothing", func(t *testing.T) {
		r.bus.MustPublish(t, tkesj.Event{Users: []string{"a"}})
		marker := []byte(`{"type":"marker"}`)
		r.bus.MustPublish(t, tkesj.Event{Users: []string{"a"}, Frame: marker})
		if got := mustRead(t, a1); !bytes.Equal(got, marker) {
			t.Errorf("got %s, want the marker %s", got, marker)
		}
		mustRead(t, a2)
	})
	if got := r.hub.Stats().Connections; got != 3 {
		t.Errorf("Stats().Connections = %d, want 3", got)
	}
}

func TestReadyComesFirst(t *testing.T) {
	t.Run("events published while the ready frame is fetched follow it", func(t *testing.T) {
		gate := make(chan struct{})
		r := newRig(t, realtime.Options{}, gate)
		c := r.dial(t, "a", "01", nil)
		// The connection is registered before ReadyFrame is called.
		waitFor(t, "the connection to be registered", func() bool { return r.hub.Stats().Connections == 1 })
		events := [][]byte{[]byte(`{"type":"message","seq":1}`), []byte(`{"type":"message","seq":2}`)}
		for _, e := range events {
			r.bus.MustPublish(t, tkesj.Event{Users: []string{"a"}, Frame: e})
		}
		close(gate)
		if got := frameType(t, mustRead(t, c)); got != "ready" {
			t.Fatalf("first frame has type %q, want ready", got)
		}
		for _, want := range events {
			if got := mustRead(t, c); !bytes.Equal(got, want) {
				t.Errorf("got %s, want %s", got, want)
			}
		}
	})
}

func TestReadyFailure(t *testing.T) {
	tests := []struct {
		name string
		user string
		want websocket.StatusCode
	}{
		{"a person whose session ended is closed with 4001", "signed-out", 4001},
		{"an internal failure is closed with 1011", "broken", websocket.StatusInternalError},
	}
	r := newRig(t, realtime.Options{}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := r.dial(t, tt.user, "01", nil)
			frames, code := readUntilClosed(t, c)
			if len(frames) != 0 || code != tt.want {
				t.Errorf("got %d frames and close %v, want no frame and %v", len(frames), code, tt.want)
			}
		})
	}
	waitFor(t, "the connections to end", func() bool { return r.hub.Stats().Connections == 0 })
	if logs := r.logs.String(); !strings.Contains(logs, "realtime: ready frame") {
		t.Errorf("the internal failure was not logged:\n%s", logs)
	}
}

func TestControlEvents(t *testing.T) {
	type dev struct{ user, device string }
	conns := []dev{{"a", "01"}, {"a", "02"}, {"b", "01"}}
	tests := []struct {
		name      string
		event     tkesj.Event
		closed    map[dev]bool
		lastFrame []byte // sent to the closed connections before the close
	}{
		{
			name:   "close_device closes only that device's connection with 4001",
			event:  tkesj.Event{Control: "close_device", Users: []string{"a"}, DeviceIdx: []byte{0x01}},
			closed: map[dev]bool{{"a", "01"}: true},
		},
		{
			name:   "close_user closes every connection of that person with 4001",
			event:  tkesj.Event{Control: "close_user", Users: []string{"a"}},
			closed: map[dev]bool{{"a", "01"}: true, {"a", "02"}: true},
		},
		{
			name:   "issue 14 item 1: close_others closes every connection of that person but the device's own, with 4001",
			event:  tkesj.Event{Control: "close_others", Users: []string{"a"}, DeviceIdx: []byte{0x01}},
			closed: map[dev]bool{{"a", "02"}: true},
		},
		{
			name:      "a control event's frame is delivered before the close",
			event:     tkesj.Event{Control: "close_device", Users: []string{"a"}, DeviceIdx: []byte{0x02}, Frame: []byte(`{"type":"signed_out"}`)},
			closed:    map[dev]bool{{"a", "02"}: true},
			lastFrame: []byte(`{"type":"signed_out"}`),
		},
		{
			name:   "an unknown control event changes nothing",
			event:  tkesj.Event{Control: "reticulate", Users: []string{"a"}, Frame: []byte(`{"type":"x"}`)},
			closed: map[dev]bool{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, realtime.Options{}, nil)
			readers := make(map[dev]*reader)
			for _, d := range conns {
				readers[d] = startReader(r.dial(t, d.user, d.device, nil))
				if got := frameType(t, readers[d].next(t)); got != "ready" {
					t.Fatalf("first frame has type %q, want ready", got)
				}
			}
			r.bus.MustPublish(t, tt.event)
			marker := []byte(`{"type":"marker"}`)
			r.bus.MustPublish(t, tkesj.Event{Users: []string{"a", "b"}, Frame: marker})
			for _, d := range conns {
				rd := readers[d]
				if !tt.closed[d] {
					if got := rd.next(t); !bytes.Equal(got, marker) {
						t.Errorf("%v got %s, want only the marker %s", d, got, marker)
					}
					continue
				}
				if tt.lastFrame != nil {
					// The frame is best effort (Event.Control): under heavy
					// load the close has been seen to win the race. What
					// arrives before the close must be that frame and
					// nothing else; the close must come either way.
					select {
					case got := <-rd.frames:
						if !bytes.Equal(got, tt.lastFrame) {
							t.Errorf("%v got %s before the close, want %s", d, got, tt.lastFrame)
						}
					case code := <-rd.closed:
						rd.closed <- code // for closeStatus below
						t.Logf("%v closed before its control frame arrived (best effort)", d)
					case <-time.After(wait):
						t.Fatalf("%v: neither frame nor close after %v", d, wait)
					}
				}
				if got := rd.closeStatus(t); got != 4001 {
					t.Errorf("%v closed with %v, want 4001", d, got)
				}
			}
			want := len(conns) - len(tt.closed)
			waitFor(t, "closed connections to be unregistered", func() bool { return r.hub.Stats().Connections == want })
		})
	}
}

// smallReceiveBuffer makes a client whose socket holds little, so that a
// client that never reads backs up quickly.
func smallReceiveBuffer() *websocket.DialOptions {
	d := &net.Dialer{}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
			}
			return c, err
		},
	}}}
}

func TestSlowConsumer(t *testing.T) {
	t.Run("a client that never reads is dropped and the others receive everything", func(t *testing.T) {
		r := newRig(t, realtime.Options{SendQueue: 8, WriteTimeout: time.Second}, nil)
		slow := r.dial(t, "a", "01", smallReceiveBuffer()) // never read
		fastSame := r.connect(t, "a", "02")
		fastOther := r.connect(t, "b", "01")
		waitFor(t, "three connections", func() bool { return r.hub.Stats().Connections == 3 })
		_ = slow

		payload := strings.Repeat("x", 64<<10)
		sent := 0
		send := func() {
			frame := []byte(fmt.Sprintf(`{"type":"message","seq":%d,"text":"%s"}`, sent, payload))
			sent++
			start := time.Now()
			r.bus.MustPublish(t, tkesj.Event{Users: []string{"a", "b"}, Frame: frame})
			if d := time.Since(start); d > time.Second {
				t.Errorf("Publish took %v; a slow client must not hold up the publisher", d)
			}
			for _, c := range []*websocket.Conn{fastSame, fastOther} {
				if got := mustRead(t, c); !bytes.Equal(got, frame) {
					t.Fatalf("fast client got a different frame (%d bytes) for seq %d", len(got), sent-1)
				}
			}
		}
		// Kernel buffers absorb some megabytes before the queue backs up.
		for r.hub.Stats().SlowDropped == 0 {
			if sent == 2000 {
				t.Fatalf("slow client not dropped after %d frames of 64 KiB", sent)
			}
			send()
		}
		waitFor(t, "the slow connection to be unregistered", func() bool { return r.hub.Stats().Connections == 2 })
		for range 20 {
			send()
		}
		if got := r.hub.Stats().SlowDropped; got != 1 {
			t.Errorf("Stats().SlowDropped = %d, want 1", got)
		}
	})
}

func TestClientFrames(t *testing.T) {
	tests := []struct {
		name        string
		typ         websocket.MessageType
		frame       string
		wantReply   string // "pong", "echoed", an error code, or "" for no reply
		wantDetail  string // part of the error's detail
		wantHandled bool   // the handler gets the frame, unchanged
	}{
		{name: "malformed JSON gets an error frame", typ: websocket.MessageText, frame: `{"type":"ack",`, wantReply: "malformed_json"},
		{name: "JSON that is not an object is malformed", typ: websocket.MessageText, frame: `[1,2]`, wantReply: "malformed_json"},
		{name: "null is malformed", typ: websocket.MessageText, frame: `null`, wantReply: "malformed_json"},
		{name: "a binary frame is unsupported", typ: websocket.MessageBinary, frame: `{"type":"ack"}`, wantReply: "unsupported_frame"},
		{name: "ping is answered with pong without the handler", typ: websocket.MessageText, frame: `{"type":"ping"}`, wantReply: "pong"},
		{name: "other frames reach the handler unchanged", typ: websocket.MessageText, frame: ` {"type":"ack", "conversation_id":"c1","seq":7} `, wantHandled: true},
		{name: "a handler's error is sent as an error frame", typ: websocket.MessageText, frame: `{"type":"forbidden"}`, wantReply: "not_a_member", wantDetail: "not in this conversation", wantHandled: true},
		{name: "an internal error hides its cause", typ: websocket.MessageText, frame: `{"type":"crash"}`, wantReply: "internal", wantDetail: "our side", wantHandled: true},
		{name: "a request frame is answered by Requests, not the handler", typ: websocket.MessageText, frame: `{"type":"echo","id":"r1"}`, wantReply: "echoed"},
		{name: "a request that panics is answered as internal and the socket stays", typ: websocket.MessageText, frame: `{"type":"explode"}`, wantReply: "internal", wantDetail: "our side"},
		{name: "a request Requests has no answer for gets none", typ: websocket.MessageText, frame: `{"type":"vanish"}`},
		{name: "a frame Requests does not take reaches the handler", typ: websocket.MessageText, frame: `{"type":"typing","conversation_id":"c1"}`, wantHandled: true},
	}
	r := newRig(t, realtime.Options{}, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := r.connect(t, "a", "01")
			mustWrite(t, c, tt.typ, []byte(tt.frame))
			switch tt.wantReply {
			case "":
			case "pong":
				if got := mustRead(t, c); string(got) != `{"type":"pong"}` {
					t.Errorf("reply = %s, want {\"type\":\"pong\"}", got)
				}
			case "echoed":
				if got, want := string(mustRead(t, c)), `{"type":"echoed","frame":`+tt.frame+`}`; got != want {
					t.Errorf("reply = %s, want %s", got, want)
				}
			default:
				code, detail := errorCode(t, mustRead(t, c))
				if code != tt.wantReply || !strings.Contains(detail, tt.wantDetail) {
					t.Errorf("error frame = %q %q, want %q with %q", code, detail, tt.wantReply, tt.wantDetail)
				}
				if strings.Contains(detail, "fire") {
					t.Errorf("error detail %q shows the internal cause", detail)
				}
			}
			// The connection keeps working, and by the time the pong is
			// here the frame sent before it has been handled.
			mustWrite(t, c, websocket.MessageText, []byte(`{"type":"ping"}`))
			if got := mustRead(t, c); string(got) != `{"type":"pong"}` {
				t.Fatalf("after %s, ping got %s, want pong", tt.frame, got)
			}
			select {
			case got := <-r.handler.frames:
				if !tt.wantHandled {
					t.Errorf("handler got %s, want nothing", got)
				} else if string(got) != tt.frame {
					t.Errorf("handler got %s, want %s", got, tt.frame)
				}
			default:
				if tt.wantHandled {
					t.Errorf("handler got nothing, want %s", tt.frame)
				}
			}
		})
	}
}

func TestHandlerPanic(t *testing.T) {
	t.Run("a handler that panics closes only its connection with 1011, and it is logged", func(t *testing.T) {
		r := newRig(t, realtime.Options{}, nil)
		c := r.connect(t, "a", "01")
		other := r.connect(t, "a", "02")
		mustWrite(t, c, websocket.MessageText, []byte(`{"type":"panic"}`))
		if _, code := readUntilClosed(t, c); code != websocket.StatusInternalError {
			t.Errorf("closed with %v, want %v", code, websocket.StatusInternalError)
		}
		waitFor(t, "the connection to be unregistered", func() bool { return r.hub.Stats().Connections == 1 })
		mustWrite(t, other, websocket.MessageText, []byte(`{"type":"ping"}`))
		if got := mustRead(t, other); string(got) != `{"type":"pong"}` {
			t.Errorf("the other connection got %s, want pong", got)
		}
		if logs := r.logs.String(); !strings.Contains(logs, "realtime: client frame panicked") {
			t.Errorf("the panic was not logged:\n%s", logs)
		}
	})
}

func TestReadLimit(t *testing.T) {
	t.Run("a frame over the read limit closes only its connection with 1009", func(t *testing.T) {
		r := newRig(t, realtime.Options{ReadLimit: 1024}, nil)
		big := r.connect(t, "a", "01")
		other := r.connect(t, "a", "02")
		frame := []byte(`{"type":"ack","pad":"` + strings.Repeat("x", 2000) + `"}`)
		mustWrite(t, big, websocket.MessageText, frame)
		if _, code := readUntilClosed(t, big); code != websocket.StatusMessageTooBig {
			t.Errorf("closed with %v, want %v", code, websocket.StatusMessageTooBig)
		}
		waitFor(t, "the connection to be unregistered", func() bool { return r.hub.Stats().Connections == 1 })
		marker := []byte(`{"type":"marker"}`)
		r.bus.MustPublish(t, tkesj.Event{Users: []string{"a"}, Frame: marker})
		if got := mustRead(t, other); !bytes.Equal(got, marker) {
			t.Errorf("other connection got %s, want %s", got, marker)
		}
		// A frame at the limit is fine.
		ok := []byte(`{"type":"ping","pad":"` + strings.Repeat("x", 1024-len(`{"type":"ping","pad":""}`)) + `"}`)
		mustWrite(t, other, websocket.MessageText, ok)
		if got := mustRead(t, other); string(got) != `{"type":"pong"}` {
			t.Errorf("ping of %d bytes got %s, want pong", len(ok), got)
		}
	})
}

func TestInvalidUTF8(t *testing.T) {
	t.Run("a text frame that is not UTF-8 closes only its connection with 1007 (RFC 6455)", func(t *testing.T) {
		r := newRig(t, realtime.Options{}, nil)
		bad := r.connect(t, "a", "01")
		other := r.connect(t, "a", "02")
		mustWrite(t, bad, websocket.MessageText, []byte("{\"type\":\"ack\",\"text\":\"\xff\"}"))
		if _, code := readUntilClosed(t, bad); code != websocket.StatusInvalidFramePayloadData {
			t.Errorf("closed with %v, want %v", code, websocket.StatusInvalidFramePayloadData)
		}
		mustWrite(t, other, websocket.MessageText, []byte(`{"type":"ping"}`))
		if got := mustRead(t, other); string(got) != `{"type":"pong"}` {
			t.Errorf("the other connection got %s, want pong", got)
		}
		select {
		case got := <-r.handler.frames:
			t.Errorf("the handler got %q, want nothing", got)
		default:
		}
	})
}

func TestRateLimit(t *testing.T) {
	t.Run("a request frame over the limit is refused with its id", func(t *testing.T) {
		r := newRig(t, realtime.Options{FramesPerSec: 1}, nil)
		c := r.connect(t, "a", "01")
		for i := range 3 {
			mustWrite(t, c, websocket.MessageText, []byte(fmt.Sprintf(`{"type":"echo","id":"r%d"}`, i)))
		}
		for i := range 2 {
			if got := frameType(t, mustRead(t, c)); got != "echoed" {
				t.Fatalf("answer %d has type %q, want echoed (the burst is 2)", i, got)
			}
		}
		var f struct{ Type, Code, ID string }
		if b := mustRead(t, c); json.Unmarshal(b, &f) != nil || f.Code != "rate_limited" || f.ID != "r2" {
			t.Errorf("third answer = %s, want rate_limited with id r2", b)
		}
	})
	t.Run("flooding gets rate_limited error frames and then a close", func(t *testing.T) {
		// One frame a second, burst two: the flood below takes far less
		// than a second even under the race detector.
		r := newRig(t, realtime.Options{FramesPerSec: 1}, nil)
		c := r.connect(t, "a", "01")
		for range 30 {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
			cancel()
			if err != nil {
				break // the server may already have closed
			}
		}
		frames, code := readUntilClosed(t, c)
		var pongs, limited int
		for _, f := range frames {
			switch frameType(t, f) {
			case "pong":
				pongs++
			case "error":
				if code, _ := errorCode(t, f); code != "rate_limited" {
					t.Errorf("error frame %s, want rate_limited", f)
				}
				limited++
			}
		}
		if pongs < 2 || pongs > 3 {
			t.Errorf("got %d pongs, want the burst of 2 (3 if a token came back)", pongs)
		}
		if limited != 10 {
			t.Errorf("got %d rate_limited frames, want 10", limited)
		}
		if code != websocket.StatusPolicyViolation {
			t.Errorf("closed with %v, want %v", code, websocket.StatusPolicyViolation)
		}
		if got := r.hub.Stats().RateLimited; got < 10 {
			t.Errorf("Stats().RateLimited = %d, want at least 10", got)
		}
	})
}

func TestHeartbeat(t *testing.T) {
	t.Run("a client that answers pings stays and one that does not is closed", func(t *testing.T) {
		r := newRig(t, realtime.Options{PingInterval: 200 * time.Millisecond}, nil)
		alive := startReader(r.dial(t, "a", "01", nil))
		alive.next(t)             // ready
		r.dial(t, "a", "02", nil) // never reads, so never answers a ping
		waitFor(t, "two connections", func() bool { return r.hub.Stats().Connections == 2 })
		waitFor(t, "the silent connection to be closed", func() bool { return r.hub.Stats().Connections == 1 })
		marker := []byte(`{"type":"marker"}`)
		r.bus.MustPublish(t, tkesj.Event{Users: []string{"a"}, Frame: marker})
		if got := alive.next(t); !bytes.Equal(got, marker) {
			t.Errorf("live client got %s, want %s", got, marker)
		}
	})
}

func TestClose(t *testing.T) {
	t.Run("Close ends every connection with 1001 and waits for ServeWS", func(t *testing.T) {
		r := newRig(t, realtime.Options{}, nil)
		var readers []*reader
		for _, d := range []string{"01", "02", "03"} {
			rd := startReader(r.dial(t, "u"+d, d, nil))
			rd.next(t) // ready
			readers = append(readers, rd)
		}
		start := time.Now()
		if err := r.hub.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Close took %v, want at most 5s", d)
		}
		if got := r.hub.Stats().Connections; got != 0 {
			t.Errorf("after Close, Stats().Connections = %d, want 0", got)
		}
		for i, rd := range readers {
			if got := rd.closeStatus(t); got != websocket.StatusGoingAway {
				t.Errorf("connection %d closed with %v, want %v", i, got, websocket.StatusGoingAway)
			}
		}
		// ServeWS has returned before Close did; the handler wrapper
		// counts a moment later.
		waitFor(t, "every ServeWS call to return", func() bool { return r.returned.Load() == 3 })

		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, r.url("late", "01"), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("Dial after Close = %v (response %v), want 503", err, resp)
		}
	})
	t.Run("Close cuts off clients that never answer the close handshake", func(t *testing.T) {
		if testing.Short() {
			t.Skip("waits for the close handshake to time out")
		}
		r := newRig(t, realtime.Options{}, nil)
		r.dial(t, "a", "01", nil) // never reads
		waitFor(t, "the connection", func() bool { return r.hub.Stats().Connections == 1 })
		start := time.Now()
		if err := r.hub.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if d := time.Since(start); d > 6*time.Second {
			t.Errorf("Close took %v, want about 5s at most", d)
		}
		waitFor(t, "ServeWS to return", func() bool { return r.returned.Load() == 1 })
	})
}

func TestLogsHoldNoFrameContents(t *testing.T) {
	t.Run("frames sent, received and refused never reach the log", func(t *testing.T) {
		const secret = "s3cret-message-text"
		r := newRig(t, realtime.Options{SendQueue: 2, ReadLimit: 256}, nil)
		c := r.connect(t, "a", "01")
		r.bus.MustPublish(t, tkesj.Event{Users: []string{"a"}, Frame: []byte(`{"type":"message","text":"` + secret + `"}`)})
		mustRead(t, c)
		for _, f := range []string{
			`{"type":"ack","text":"` + secret + `"}`,
			`{"type":"crash","text":"` + secret + `"}`,
			`{"type":` + secret,
		} {
			mustWrite(t, c, websocket.MessageText, []byte(f))
		}
		mustWrite(t, c, websocket.MessageText, []byte(`{"type":"ack","text":"`+secret+strings.Repeat("x", 300)+`"}`))
		readUntilClosed(t, c)
		// ServeWS returns once the connection is set up; the hub counts
		// it until it ends.
		waitFor(t, "the connection to end", func() bool { return r.hub.Stats().Connections == 0 })
		if logs := r.logs.String(); strings.Contains(logs, secret) {
			t.Errorf("logs hold frame contents:\n%s", logs)
		} else if !strings.Contains(logs, "disconnected") {
			t.Errorf("logs miss the disconnection:\n%s", logs)
		}
	})
}

// rawDial opens a WebSocket with a bare TCP socket, reads the ready frame
// and returns the socket: a client that costs the process almost nothing,
// so that the server's cost per connection can be measured.
func rawDial(tb testing.TB, addr, user string) net.Conn {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatalf("Dial = %v", err)
	}
	_ = c.SetDeadline(time.Now().Add(wait))
	req := "GET /ws?user=" + user + "&device=01 HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		tb.Fatalf("write handshake: %v", err)
	}
	br := bufio.NewReaderSize(c, 512)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		tb.Fatalf("handshake = %v, %v; want 101", resp, err)
	}
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		tb.Fatalf("read frame header: %v", err)
	}
	n := int(h[1] & 0x7f)
	if n == 126 {
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			tb.Fatalf("read frame length: %v", err)
		}
		n = int(binary.BigEndian.Uint16(l[:]))
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		tb.Fatalf("read frame: %v", err)
	}
	if !bytes.HasPrefix(payload, []byte(`{"type":"ready"`)) {
		tb.Fatalf("first frame = %s, want ready", payload)
	}
	_ = c.SetDeadline(time.Time{})
	return c
}

func settle() {
	for range 3 {
		runtime.GC()
	}
}

// TestIdleConnectionCost measures what an idle connection costs the
// server: heap and stack bytes, and goroutines. The raw clients live in the
// same process; their sockets (a few hundred bytes each) are included.
func TestIdleConnectionCost(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	r := newQuietRig(t, realtime.Options{})
	addr := strings.TrimPrefix(r.srv.URL, "http://")
	_ = rawDial(t, addr, "warm-up").Close() // first-use allocations are not per connection
	waitFor(t, "the warm-up connection to end", func() bool { return r.hub.Stats().Connections == 0 })

	settle()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for i := range n {
		conns = append(conns, rawDial(t, addr, fmt.Sprintf("user-%d", i)))
	}
	waitFor(t, "every connection to be registered", func() bool { return r.hub.Stats().Connections == n })
	// Writers exit once the ready frame is written; net/http's goroutines
	// once ServeWS returns.
	perConn := 0 // goroutines an idle connection keeps: none on epoll (internal/wsnet)
	if runtime.GOOS != "linux" {
		perConn = 1 // stream mode: the reading goroutine
	}
	waitFor(t, "writer goroutines to exit", func() bool { return runtime.NumGoroutine() <= g0+perConn*n+10 })
	settle()
	runtime.ReadMemStats(&after)
	g1 := runtime.NumGoroutine()
	if p := os.Getenv("REALTIME_HEAP_PROFILE"); p != "" {
		// Where the bytes go: run with -memprofilerate=1 and read the
		// profile with go tool pprof -sample_index=inuse_space.
		if err := writeHeapProfile(p); err != nil {
			t.Errorf("write heap profile: %v", err)
		}
	}

	heap := float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / float64(n)
	stack := float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
	goroutines := float64(g1-g0) / float64(n)
	t.Logf("%d idle connections: %.0f B heap + %.0f B stack = %.0f B per connection, %.2f goroutines per connection (race detector: %v)",
		n, heap, stack, heap+stack, goroutines, raceEnabled)
	if goroutines > float64(perConn)+0.01 {
		t.Errorf("%.2f goroutines per idle connection, want %d", goroutines, perConn)
	}
	// A guard against regressions, not the target: issue 17 measured
	// 16.7 KiB of stack and ~13 KiB of heap per connection before
	// internal/wsnet; on epoll it is ~2 KiB, raw clients included.
	limit := 4 << 10
	if perConn > 0 {
		limit = 20 << 10
	}
	if !raceEnabled && heap+stack > float64(limit) {
		t.Errorf("%.0f B per idle connection, want under %d B", heap+stack, limit)
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// BenchmarkFanout publishes one event to 1000 people with one connection
// each and waits until every client has read it.
func BenchmarkFanout(b *testing.B) {
	const n = 1000
	r := newQuietRig(b, realtime.Options{})
	users := make([]string, n)
	var got sync.WaitGroup
	for i := range users {
		users[i] = fmt.Sprintf("user-%d", i)
		c := r.connect(b, users[i], "01")
		go func() {
			for {
				if _, _, err := c.Read(context.Background()); err != nil {
					return
				}
				got.Done()
			}
		}()
	}
	frame := []byte(`{"type":"message","conversation_id":"0000000000000000","message":{"id":"00000000000000000000","seq":1,"sender_id":"0000000000000000","kind":"text","text":"` + strings.Repeat("x", 200) + `"}}`)
	e := tkesj.Event{Users: users, Frame: frame}
	var publishing time.Duration
	events := 0
	for b.Loop() {
		events++
		got.Add(n)
		start := time.Now()
		r.bus.MustPublish(b, e)
		publishing += time.Since(start)
		got.Wait()
	}
	b.ReportMetric(float64(n*events)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(publishing.Nanoseconds())/float64(events), "publish-ns/op")
	if s := r.hub.Stats(); s.SlowDropped != 0 {
		b.Errorf("Stats().SlowDropped = %d, want 0", s.SlowDropped)
	}
}

// Issue 14 item 7, R-SEC-5: one person may hold MaxPerUser sockets; the next
// upgrade answers 429 too_many_connections in API.md's problem format, and
// others are unaffected. Closing a socket frees its place.
func TestMaxPerUser(t *testing.T) {
	r := newRig(t, realtime.Options{MaxPerUser: 3}, nil)
	var held []*websocket.Conn
	for i := range 3 {
		held = append(held, r.connect(t, "u1", fmt.Sprintf("%02x", i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, r.url("u1", "09"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th socket: Dial = %v, %v; want 429", resp, err)
	}
	var p struct {
		Code   string
		Status int
	}
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Code != "too_many_connections" || p.Status != 429 ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("4th socket: answer %s %+v (%v), want a problem with code too_many_connections", resp.Header.Get("Content-Type"), p, err)
	}
	if got := r.hub.Stats().TooMany; got != 1 {
		t.Errorf("Stats().TooMany = %d, want 1", got)
	}
	r.connect(t, "u2", "01") // someone else is not affected

	held[0].Close(websocket.StatusNormalClosure, "")
	waitFor(t, "the closed socket's place to be freed", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		c, _, err := websocket.Dial(ctx, r.url("u1", "0a"), nil)
		if err != nil {
			return false
		}
		c.CloseNow()
		return true
	})
}

// presenceLog records Options.Presence calls in order.
type presenceLog struct {
	mu    sync.Mutex
	calls []string
}

func (p *presenceLog) set(userID string, online bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	state := "off"
	if online {
		state = "on"
	}
	p.calls = append(p.calls, userID+" "+state)
}

func (p *presenceLog) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.calls, ", ")
}

// Issue 17: the hub tells presence when a person's first live socket opens
// and when their last one stops being live, once each however many sockets
// they hold; a socket that begins to close (here: its device signed out)
// stops counting at once, before its close handshake ends, since no frame
// is queued for it any more.
func TestPresenceHook(t *testing.T) {
	var log presenceLog
	r := newRig(t, realtime.Options{Presence: log.set}, nil)
	one := startReader(r.dial(t, "a", "01", nil))
	if got := frameType(t, one.next(t)); got != "ready" {
		t.Fatalf("first frame %q, want ready", got)
	}
	if got := log.String(); got != "a on" {
		t.Fatalf("after a's first socket: presence calls %q, want %q", got, "a on")
	}
	two := r.connect(t, "a", "02")
	if got := log.String(); got != "a on" {
		t.Errorf("after a's second socket: presence calls %q; want no second call", got)
	}
	two.Close(websocket.StatusNormalClosure, "bye")
	waitFor(t, "a's second socket to end", func() bool { return r.hub.Stats().Connections == 1 })
	if got := log.String(); got != "a on" {
		t.Errorf("after one of a's two sockets went: presence calls %q; want a still online", got)
	}
	// A presence event on the bus is not for clients.
	r.bus.MustPublish(t, tkesj.Event{Control: "presence", Users: []string{"a"}, Frame: []byte(`{"type":"x"}`)})
	r.bus.MustPublish(t, tkesj.Event{Control: "close_device", Users: []string{"a"}, DeviceIdx: []byte{0x01}})
	if got := one.closeStatus(t); got != 4001 {
		t.Errorf("close status %v, want 4001", got)
	}
	select {
	case b := <-one.frames:
		t.Errorf("frame %s reached a's socket; a presence event is for nodes only", b)
	default:
	}
	waitFor(t, "a to go offline", func() bool { return log.String() == "a on, a off" })
	if strings.Contains(r.logs.String(), "unknown control") {
		t.Error("the hub logged a presence event as an unknown control")
	}
	r.connect(t, "a", "01")
	waitFor(t, "a back online", func() bool { return log.String() == "a on, a off, a on" })
}
