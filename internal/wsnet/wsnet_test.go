package wsnet_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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

	"github.com/tkesj/tkesj/internal/wsnet"
)

// wait bounds every wait in these tests.
const wait = 10 * time.Second

// echo is a Handler that sends every text message back, remembers binary
// ones, and records how the connection ended.
type echo struct {
	mu     sync.Mutex
	msgs   []string
	types  []wsnet.MessageType
	closed chan error
	// onMessage, when set, replaces the echo.
	onMessage func(c *wsnet.Conn, typ wsnet.MessageType, data []byte)
}

func newEcho() *echo { return &echo{closed: make(chan error, 1)} }

func (e *echo) OnMessage(c *wsnet.Conn, typ wsnet.MessageType, data []byte) {
	e.mu.Lock()
	e.msgs = append(e.msgs, string(data))
	e.types = append(e.types, typ)
	e.mu.Unlock()
	if e.onMessage != nil {
		e.onMessage(c, typ, data)
		return
	}
	if typ == wsnet.MessageText {
		_ = c.Send(bytes.Clone(data))
	}
}

func (e *echo) OnClose(c *wsnet.Conn, err error) { e.closed <- err }

// end waits for OnClose and returns its error.
func (e *echo) end(tb testing.TB) error {
	tb.Helper()
	select {
	case err := <-e.closed:
		return err
	case <-time.After(wait):
		tb.Fatalf("OnClose not called after %v", wait)
	}
	return nil
}

// rig is a Server behind an HTTP server; each upgrade gets the handler
// made by newHandler and is started at once unless hold is set.
type rig struct {
	srv      *wsnet.Server
	http     *httptest.Server
	handlers chan *echo
	conns    chan *wsnet.Conn
	hold     atomic.Bool // do not Start new connections
	// onMessage, when set, is given to the handlers of new connections.
	onMessage atomic.Pointer[func(c *wsnet.Conn, typ wsnet.MessageType, data []byte)]
}

type mode struct {
	name string
	opts wsnet.Options
	tls  bool
}

// modes are the ways a connection is served: the epoll reactor, stream
// mode (other systems), and TLS (stream mode on Linux).
var modes = []mode{
	{name: "poll"},
	{name: "stream", opts: wsnet.Options{NoPoll: true}},
	{name: "tls", tls: true},
}

func newRig(tb testing.TB, m mode, opts wsnet.Options) *rig {
	tb.Helper()
	opts.NoPoll = m.opts.NoPoll
	srv, err := wsnet.NewServer(opts)
	if err != nil {
		tb.Fatalf("NewServer = %v", err)
	}
	r := &rig{srv: srv, handlers: make(chan *echo, 10000), conns: make(chan *wsnet.Conn, 10000)}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		e := newEcho()
		if f := r.onMessage.Load(); f != nil {
			e.onMessage = *f
		}
		c, err := srv.Upgrade(w, req, e)
		if err != nil {
			return
		}
		r.handlers <- e
		r.conns <- c
		if !r.hold.Load() {
			c.Start()
		}
	})
	if m.tls {
		r.http = httptest.NewTLSServer(h)
	} else {
		r.http = httptest.NewServer(h)
	}
	tb.Cleanup(func() {
		r.http.Close()
		_ = srv.Close()
	})
	return r
}

func (r *rig) url() string { return "ws" + strings.TrimPrefix(r.http.URL, "http") }

func (r *rig) dial(tb testing.TB) *websocket.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, _, err := websocket.Dial(ctx, r.url(), &websocket.DialOptions{HTTPClient: r.http.Client()})
	if err != nil {
		tb.Fatalf("Dial = %v", err)
	}
	c.SetReadLimit(1 << 22)
	tb.Cleanup(func() { _ = c.CloseNow() })
	return c
}

func (r *rig) handler(tb testing.TB) *echo {
	tb.Helper()
	select {
	case e := <-r.handlers:
		return e
	case <-time.After(wait):
		tb.Fatalf("no upgrade after %v", wait)
	}
	return nil
}

func (r *rig) conn(tb testing.TB) *wsnet.Conn {
	tb.Helper()
	select {
	case c := <-r.conns:
		return c
	case <-time.After(wait):
		tb.Fatalf("no upgrade after %v", wait)
	}
	return nil
}

func mustRead(tb testing.TB, c *websocket.Conn) (websocket.MessageType, []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		tb.Fatalf("Read = %v, want a message", err)
	}
	return typ, b
}

func mustWrite(tb testing.TB, c *websocket.Conn, typ websocket.MessageType, b []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.Write(ctx, typ, b); err != nil {
		tb.Fatalf("Write = %v", err)
	}
}

// closeStatus reads until the connection ends and returns the close code.
func closeStatus(tb testing.TB, c *websocket.Conn) websocket.StatusCode {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				tb.Fatalf("still open after %v", wait)
			}
			return websocket.CloseStatus(err)
		}
	}
}

func forEachMode(t *testing.T, fn func(t *testing.T, m mode)) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) { fn(t, m) })
	}
}

func TestEcho(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		r := newRig(t, m, wsnet.Options{ReadLimit: 1 << 20})
		c := r.dial(t)
		e := r.handler(t)
		// Sizes across the 7-, 16- and 64-bit length encodings and the
		// 4 KiB read buffer.
		for _, n := range []int{0, 1, 125, 126, 4095, 4096, 4097, 65535, 65536, 300000} {
			msg := bytes.Repeat([]byte("é"), n/2)
			mustWrite(t, c, websocket.MessageText, msg)
			typ, got := mustRead(t, c)
			if typ != websocket.MessageText || !bytes.Equal(got, msg) {
				t.Fatalf("echo of %d bytes = %v, %d bytes; want text, the same bytes", len(msg), typ, len(got))
			}
		}
		mustWrite(t, c, websocket.MessageBinary, []byte{0, 1, 2})
		mustWrite(t, c, websocket.MessageText, []byte("after binary"))
		if _, got := mustRead(t, c); string(got) != "after binary" {
			t.Errorf("got %q, want the text after the binary message", got)
		}
		e.mu.Lock()
		if typ := e.types[len(e.types)-2]; typ != wsnet.MessageBinary {
			t.Errorf("binary message delivered as %v", typ)
		}
		e.mu.Unlock()
		if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Errorf("client Close = %v, want a clean handshake", err)
		}
		var ce *wsnet.CloseError
		if err := e.end(t); !errors.As(err, &ce) || ce.Code != wsnet.StatusNormalClosure || !ce.Remote {
			t.Errorf("OnClose(%v), want the peer's close 1000", err)
		}
	})
}

func TestOrderAndCoalescing(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		r := newRig(t, m, wsnet.Options{SendQueue: 5000})
		c := r.dial(t)
		r.handler(t)
		sc := r.conn(t)
		const n = 3000
		for i := range n {
			if err := sc.Send(fmt.Appendf(nil, `{"seq":%d}`, i)); err != nil {
				t.Fatalf("Send %d = %v", i, err)
			}
		}
		for i := range n {
			if _, got := mustRead(t, c); string(got) != fmt.Sprintf(`{"seq":%d}`, i) {
				t.Fatalf("frame %d = %s", i, got)
			}
		}
		waitFor(t, "the frames to be counted", func() bool { return r.srv.FramesSent() == n })
	})
}

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

// raw is a client that writes frames byte by byte as it is told.
type raw struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(tb testing.TB, r *rig, extra []byte) *raw {
	tb.Helper()
	addr := strings.TrimPrefix(r.http.URL, "http://")
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		tb.Fatalf("Dial = %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(wait))
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write(append([]byte(req), extra...)); err != nil {
		tb.Fatalf("write handshake: %v", err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		tb.Fatalf("handshake = %v, %v; want 101", resp, err)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		tb.Fatalf("Sec-WebSocket-Accept = %q, want RFC 6455's example answer", got)
	}
	return &raw{Conn: c, br: br}
}

// frame builds a client frame; mask nil sends it unmasked.
func frame(fin bool, op byte, payload []byte, mask []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	mbit := byte(0)
	if mask != nil {
		mbit = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, mbit|byte(n))
	case n <= 0xffff:
		out = append(out, mbit|126, byte(n>>8), byte(n))
	default:
		out = append(out, mbit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if mask == nil {
		return append(out, payload...)
	}
	out = append(out, mask...)
	for i, c := range payload {
		out = append(out, c^mask[i%4])
	}
	return out
}

var key = []byte{0x37, 0xfa, 0x21, 0x3d}

func text(s string) []byte { return frame(true, 0x1, []byte(s), key) }

// next reads one server frame.
func (c *raw) next(tb testing.TB) (op byte, payload []byte) {
	tb.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		tb.Fatalf("read frame: %v", err)
	}
	if h[1]&0x80 != 0 {
		tb.Fatalf("server frame is masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(c.br, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		io.ReadFull(c.br, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, payload); err != nil {
		tb.Fatalf("read payload: %v", err)
	}
	return h[0] & 0x0f, payload
}

// closeCode reads frames until the server's close and returns its code,
// then checks that the server closes the socket.
func (c *raw) closeCode(tb testing.TB) (wsnet.StatusCode, [][]byte) {
	tb.Helper()
	var got [][]byte
	for {
		op, p := c.next(tb)
		if op != 0x8 {
			got = append(got, p)
			continue
		}
		code := wsnet.StatusNoStatusReceived
		if len(p) >= 2 {
			code = wsnet.StatusCode(binary.BigEndian.Uint16(p))
		}
		// The server ends its side (FIN) after its close frame; the
		// client then closes, as browsers do.
		if _, err := c.br.ReadByte(); err == nil {
			tb.Errorf("bytes after the close frame")
		}
		c.Close()
		return code, got
	}
}

func TestFrameRules(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		name     string
		send     [][]byte
		want     []string         // text frames echoed back, in order
		pongs    int              // pongs expected among them (checked separately)
		code     wsnet.StatusCode // close code from the server; 0: none, the connection stays
		trickled bool             // write one byte at a time
	}{
		{name: "a masked text frame is delivered", send: [][]byte{text("hello")}, want: []string{"hello"}},
		{name: "a frame written a byte at a time is delivered", send: [][]byte{text("slowly")}, want: []string{"slowly"}, trickled: true},
		{name: "several frames in one write are each delivered", send: [][]byte{append(text("a"), append(text("b"), text("c")...)...)}, want: []string{"a", "b", "c"}},
		{name: "fragments are joined into one message", send: [][]byte{frame(false, 0x1, []byte("he"), key), frame(false, 0x0, []byte("ll"), key), frame(true, 0x0, []byte("o"), key)}, want: []string{"hello"}},
		{name: "a ping between fragments is answered and the message still joined",
			send: [][]byte{frame(false, 0x1, []byte("fr"), key), frame(true, 0x9, []byte("p"), key), frame(true, 0x0, []byte("ag"), key)}, want: []string{"frag"}, pongs: 1},
		{name: "UTF-8 split across fragments is valid", send: [][]byte{frame(false, 0x1, []byte{0xc3}, key), frame(true, 0x0, []byte{0xa9}, key)}, want: []string{"é"}},
		{name: "an unmasked frame is a protocol error", send: [][]byte{frame(true, 0x1, []byte("x"), nil)}, code: 1002},
		{name: "a reserved bit is a protocol error", send: [][]byte{{0xc1, 0x80, 1, 2, 3, 4}}, code: 1002},
		{name: "an unknown opcode is a protocol error", send: [][]byte{frame(true, 0x3, nil, key)}, code: 1002},
		{name: "a continuation without a message is a protocol error", send: [][]byte{frame(true, 0x0, []byte("x"), key)}, code: 1002},
		{name: "a new message inside a fragmented one is a protocol error", send: [][]byte{frame(false, 0x1, []byte("x"), key), frame(true, 0x1, []byte("y"), key)}, code: 1002},
		{name: "a fragmented ping is a protocol error", send: [][]byte{frame(false, 0x9, nil, key)}, code: 1002},
		{name: "a ping over 125 bytes is a protocol error", send: [][]byte{frame(true, 0x9, []byte(long), key)}, code: 1002},
		{name: "invalid UTF-8 in a text message closes with 1007", send: [][]byte{frame(true, 0x1, []byte{'a', 0xff}, key)}, code: 1007},
		{name: "a frame over the read limit closes with 1009", send: [][]byte{frame(true, 0x1, bytes.Repeat([]byte("x"), 1025), key)}, code: 1009},
		{name: "a message at the read limit is delivered", send: [][]byte{frame(true, 0x1, bytes.Repeat([]byte("x"), 1024), key)}, want: []string{strings.Repeat("x", 1024)}},
		{name: "fragments over the read limit together close with 1009", send: [][]byte{frame(false, 0x1, bytes.Repeat([]byte("x"), 600), key), frame(true, 0x0, bytes.Repeat([]byte("x"), 600), key)}, code: 1009},
		{name: "a 2^63-byte length closes with 1009", send: [][]byte{{0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}}, code: 1009},
		{name: "a close with a lone byte is a protocol error", send: [][]byte{frame(true, 0x8, []byte{3}, key)}, code: 1002},
		{name: "a close with a reserved code is a protocol error", send: [][]byte{frame(true, 0x8, []byte{0x03, 0xed}, key)}, code: 1002},
		{name: "a close whose reason is not UTF-8 is a protocol error", send: [][]byte{frame(true, 0x8, []byte{0x03, 0xe8, 0xff}, key)}, code: 1002},
		{name: "a close is answered with its code", send: [][]byte{frame(true, 0x8, []byte{0x0f, 0xa1, 'b', 'y', 'e'}, key)}, code: 4001},
		{name: "a close without a code is answered without one", send: [][]byte{frame(true, 0x8, nil, key)}, code: wsnet.StatusNoStatusReceived},
		{name: "frames after a close are ignored", send: [][]byte{append(frame(true, 0x8, []byte{0x03, 0xe8}, key), text("late")...)}, code: 1000},
	}
	for _, m := range modes[:2] {
		for _, tt := range tests {
			t.Run(m.name+"/"+tt.name, func(t *testing.T) {
				r := newRig(t, m, wsnet.Options{ReadLimit: 1024})
				c := dialRaw(t, r, nil)
				e := r.handler(t)
				for _, f := range tt.send {
					if tt.trickled {
						for i := range f {
							c.Write(f[i : i+1])
							time.Sleep(time.Millisecond)
						}
					} else {
						c.Write(f)
					}
				}
				var got []string
				pongs := 0
				if tt.code != 0 {
					code, frames := c.closeCode(t)
					if code != tt.code {
						t.Errorf("close code = %d, want %d", code, tt.code)
					}
					for _, f := range frames {
						got = append(got, string(f))
					}
					e.end(t)
				} else {
					for len(got) < len(tt.want) {
						op, p := c.next(t)
						if op == 0xa {
							pongs++
							continue
						}
						got = append(got, string(p))
					}
					// The connection still works.
					c.Write(text("still here"))
					if _, p := c.next(t); string(p) != "still here" {
						t.Errorf("after the frames, echo = %q", p)
					}
				}
				if strings.Join(got, "|") != strings.Join(tt.want, "|") || pongs != tt.pongs {
					t.Errorf("got %q and %d pongs, want %q and %d", got, pongs, tt.want, tt.pongs)
				}
			})
		}
	}
}

func TestEarlyFramesWaitForStart(t *testing.T) {
	// A frame in the same packet as the handshake is read from net/http's
	// buffer, and only once Start is called.
	forEachMode(t, func(t *testing.T, m mode) {
		if m.tls {
			t.Skip("a raw client speaks plain TCP")
		}
		r := newRig(t, m, wsnet.Options{})
		r.hold.Store(true)
		c := dialRaw(t, r, text("early"))
		sc := r.conn(t)
		if err := sc.Send([]byte("first")); err != nil {
			t.Fatalf("Send = %v", err)
		}
		if _, p := c.next(t); string(p) != "first" {
			t.Fatalf("first frame = %q, want the one sent before Start", p)
		}
		sc.Start()
		if _, p := c.next(t); string(p) != "early" {
			t.Fatalf("echo = %q, want the early frame", p)
		}
	})
}

func TestServerClose(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		t.Run("a flushing close sends the queue first", func(t *testing.T) {
			r := newRig(t, m, wsnet.Options{})
			c := r.dial(t)
			e := r.handler(t)
			sc := r.conn(t)
			for i := range 10 {
				sc.Send(fmt.Appendf(nil, "f%d", i))
			}
			sc.Close(4001, "signed out", true)
			if err := sc.Send([]byte("too late")); !errors.Is(err, wsnet.ErrClosing) {
				t.Errorf("Send after Close = %v, want ErrClosing", err)
			}
			for i := range 10 {
				if _, got := mustRead(t, c); string(got) != fmt.Sprintf("f%d", i) {
					t.Fatalf("frame %d = %s", i, got)
				}
			}
			if code := closeStatus(t, c); code != 4001 {
				t.Errorf("close status = %v, want 4001", code)
			}
			var ce *wsnet.CloseError
			if err := e.end(t); !errors.As(err, &ce) || ce.Code != 4001 || ce.Remote {
				t.Errorf("OnClose(%v), want our close 4001", err)
			}
		})
		t.Run("a close before Start still completes the handshake", func(t *testing.T) {
			r := newRig(t, m, wsnet.Options{})
			r.hold.Store(true)
			c := r.dial(t)
			e := r.handler(t)
			r.conn(t).Close(1011, "internal error", false)
			if code := closeStatus(t, c); code != 1011 {
				t.Errorf("close status = %v, want 1011", code)
			}
			e.end(t)
		})
		t.Run("an immediate close overtakes a flushing one", func(t *testing.T) {
			r := newRig(t, m, wsnet.Options{})
			c := r.dial(t)
			r.handler(t)
			sc := r.conn(t)
			sc.Close(4001, "later", true)
			sc.Close(1013, "now", false)
			sc.Close(1000, "ignored", false)
			if code := closeStatus(t, c); code != 1013 && code != 4001 {
				t.Errorf("close status = %v, want 1013 (or 4001 if it was written already)", code)
			}
		})
		t.Run("a peer that never answers the close is cut after CloseTimeout", func(t *testing.T) {
			if m.tls {
				t.Skip("a raw client speaks plain TCP")
			}
			r := newRig(t, m, wsnet.Options{CloseTimeout: 100 * time.Millisecond})
			c := dialRaw(t, r, nil)
			e := r.handler(t)
			r.conn(t).Close(1001, "going away", false)
			if code, _ := c.closeCode(t); code != 1001 {
				t.Errorf("close code = %d", code)
			}
			var ce *wsnet.CloseError
			if err := e.end(t); !errors.As(err, &ce) || ce.Code != 1001 {
				t.Errorf("OnClose(%v), want our 1001", err)
			}
		})
		t.Run("Cut drops the socket", func(t *testing.T) {
			r := newRig(t, m, wsnet.Options{})
			c := r.dial(t)
			e := r.handler(t)
			r.conn(t).Cut()
			if code := closeStatus(t, c); code != -1 {
				t.Errorf("close status = %v, want none (-1)", code)
			}
			if err := e.end(t); !errors.Is(err, wsnet.ErrCut) {
				t.Errorf("OnClose(%v), want ErrCut", err)
			}
		})
	})
}

func TestAbruptClose(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		if m.tls {
			t.Skip("a raw client speaks plain TCP")
		}
		r := newRig(t, m, wsnet.Options{})
		c := dialRaw(t, r, nil)
		e := r.handler(t)
		c.Write(frame(false, 0x1, []byte("half a mess"), key)[:8]) // half a frame
		time.Sleep(20 * time.Millisecond)
		c.Close()
		if err := e.end(t); err == nil {
			t.Errorf("OnClose(nil), want the read's end")
		}
	})
}

func TestHeartbeat(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		r := newRig(t, m, wsnet.Options{PingInterval: 50 * time.Millisecond})
		alive := r.dial(t)
		aliveEnd := r.handler(t)
		go func() {
			for {
				if _, _, err := alive.Read(context.Background()); err != nil {
					return
				}
			}
		}()
		silent := r.dial(t) // never reads, so never answers a ping
		_ = silent
		silentEnd := r.handler(t)
		start := time.Now()
		if err := silentEnd.end(t); !errors.Is(err, wsnet.ErrPingTimeout) {
			t.Errorf("silent client: OnClose(%v), want ErrPingTimeout", err)
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Errorf("silent client cut after %v, want about 3 intervals", d)
		}
		select {
		case err := <-aliveEnd.closed:
			t.Errorf("the client that answers pings was closed: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
	})
}

// smallReceiveBuffer makes a client whose socket holds little.
func smallReceiveBuffer(r *rig) *websocket.DialOptions {
	d := &net.Dialer{}
	tr := r.http.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4 << 10)
		}
		return c, err
	}
	return &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}}
}

func TestSlowReader(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		r := newRig(t, m, wsnet.Options{SendQueue: 8, WriteTimeout: 300 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		slow, _, err := websocket.Dial(ctx, r.url(), smallReceiveBuffer(r))
		if err != nil {
			t.Fatalf("Dial = %v", err)
		}
		defer slow.CloseNow()
		e := r.handler(t)
		sc := r.conn(t)
		payload := bytes.Repeat([]byte("x"), 64<<10)
		full := false
		// Kernel buffers take some megabytes before writing blocks.
		for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
			start := time.Now()
			err := sc.Send(payload)
			if d := time.Since(start); d > time.Second {
				t.Fatalf("Send took %v; it must never wait for the peer", d)
			}
			if errors.Is(err, wsnet.ErrQueueFull) {
				full = true
				time.Sleep(time.Millisecond)
				continue
			}
			if errors.Is(err, wsnet.ErrClosing) {
				break
			}
			if err != nil {
				t.Fatalf("Send = %v", err)
			}
		}
		if !full {
			t.Errorf("the queue never filled")
		}
		if err := e.end(t); !errors.Is(err, wsnet.ErrWriteTimeout) {
			t.Errorf("OnClose(%v), want ErrWriteTimeout", err)
		}
	})
}

func TestHandlerPanic(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		r := newRig(t, m, wsnet.Options{})
		boom := func(*wsnet.Conn, wsnet.MessageType, []byte) { panic("boom") }
		r.onMessage.Store(&boom)
		c := r.dial(t)
		e := r.handler(t)
		mustWrite(t, c, websocket.MessageText, []byte("x"))
		if code := closeStatus(t, c); code != websocket.StatusInternalError {
			t.Errorf("close status = %v, want 1011", code)
		}
		if err := e.end(t); !errors.Is(err, wsnet.ErrHandlerPanic) || !strings.Contains(err.Error(), "boom") {
			t.Errorf("OnClose(%v), want the panic", err)
		}
	})
}

func TestHandshake(t *testing.T) {
	r := newRig(t, modes[0], wsnet.Options{})
	addr := strings.TrimPrefix(r.http.URL, "http://")
	good := http.Header{"Upgrade": {"websocket"}, "Connection": {"keep-alive, Upgrade"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
	tests := []struct {
		name   string
		method string
		edit   func(h http.Header)
		want   int
	}{
		{"a proper request is upgraded", "GET", func(http.Header) {}, 101},
		{"a page of the same host may connect", "GET", func(h http.Header) { h.Set("Origin", "http://"+addr) }, 101},
		{"a page of another host may not", "GET", func(h http.Header) { h.Set("Origin", "https://evil.example") }, 403},
		{"an Origin without a host is refused", "GET", func(h http.Header) { h.Set("Origin", "null") }, 403},
		{"a request without Upgrade is refused", "GET", func(h http.Header) { h.Del("Upgrade") }, 426},
		{"a request without Connection: Upgrade is refused", "GET", func(h http.Header) { h.Set("Connection", "keep-alive") }, 426},
		{"a POST is refused", "POST", func(http.Header) {}, 405},
		{"another version is refused", "GET", func(h http.Header) { h.Set("Sec-Websocket-Version", "8") }, 400},
		{"a missing key is refused", "GET", func(h http.Header) { h.Del("Sec-Websocket-Key") }, 400},
		{"a key of the wrong length is refused", "GET", func(h http.Header) { h.Set("Sec-Websocket-Key", "c2hvcnQ=") }, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, r.http.URL, nil)
			req.Header = good.Clone()
			tt.edit(req.Header)
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatalf("RoundTrip = %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

// TestManyConnections opens thousands of connections, has each echo a
// message, lets them idle, and closes them: every OnClose comes, and idle
// connections in poll mode hold no goroutine.
func TestManyConnections(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	for _, m := range modes[:2] {
		t.Run(m.name, func(t *testing.T) {
			r := newRig(t, m, wsnet.Options{})
			g0 := runtime.NumGoroutine()
			addr := strings.TrimPrefix(r.http.URL, "http://")
			conns := make([]net.Conn, n)
			brs := make([]*bufio.Reader, n)
			handlers := make([]*echo, n)
			for i := range n {
				c := dialRaw(t, r, nil)
				conns[i], brs[i] = c.Conn, c.br
				handlers[i] = r.handler(t)
			}
			_ = addr
			var wg sync.WaitGroup
			var bad atomic.Int64
			for i := range n {
				wg.Go(func() {
					c := &raw{Conn: conns[i], br: brs[i]}
					msg := fmt.Sprint("conn ", i)
					c.Write(text(msg))
					if _, p := c.next(t); string(p) != msg {
						bad.Add(1)
					}
				})
			}
			wg.Wait()
			if bad.Load() != 0 {
				t.Fatalf("%d connections got a wrong echo", bad.Load())
			}
			// net/http's goroutines for the handshakes end once the
			// handlers return.
			time.Sleep(100 * time.Millisecond)
			g := runtime.NumGoroutine() - g0
			t.Logf("%s: %d idle connections, %d more goroutines", m.name, n, g)
			if m.name == "poll" && g > 10 {
				t.Errorf("%d goroutines for %d idle connections, want none each", g, n)
			}
			for _, c := range conns {
				c.Close()
			}
			for _, e := range handlers {
				e.end(t)
			}
		})
	}
}

// TestIdleCost measures what an idle connection costs the server in poll
// mode: heap and stack bytes and goroutines, raw clients included (a few
// hundred bytes of socket each).
func TestIdleCost(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	r := newRig(t, modes[0], wsnet.Options{PingInterval: time.Minute})
	dialRaw(t, r, nil).Close() // first-use allocations are not per connection
	r.handler(t).end(t)
	r.conn(t)
	settle()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()
	conns := make([]*raw, n)
	for i := range conns {
		conns[i] = dialRaw(t, r, nil)
		r.handler(t)
		r.conn(t)
	}
	time.Sleep(50 * time.Millisecond) // net/http's handshake goroutines end
	settle()
	runtime.ReadMemStats(&after)
	if p := os.Getenv("WSNET_HEAP_PROFILE"); p != "" {
		// Where the bytes go: run with -memprofilerate=1 and read it with
		// go tool pprof -sample_index=inuse_space.
		f, err := os.Create(p)
		if err == nil {
			err = pprof.WriteHeapProfile(f)
			f.Close()
		}
		if err != nil {
			t.Errorf("heap profile: %v", err)
		}
	}
	g := float64(runtime.NumGoroutine()-g0) / float64(n)
	heap := float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / float64(n)
	stack := float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(n)
	t.Logf("%d idle connections: %.0f B heap + %.0f B stack per connection, %.3f goroutines each", n, heap, stack, g)
	if g > 0.01 {
		t.Errorf("%.3f goroutines per idle connection, want none", g)
	}
	for _, c := range conns {
		c.Close()
	}
}

func settle() {
	for range 3 {
		runtime.GC()
	}
}

// TestTooBigIsDrained: a client whose message is over the limit may finish
// writing it (the server drains what it sends instead of resetting the
// socket under it) and reads 1009.
func TestTooBigIsDrained(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		r := newRig(t, m, wsnet.Options{ReadLimit: 1024})
		c := r.dial(t)
		e := r.handler(t)
		mustWrite(t, c, websocket.MessageText, bytes.Repeat([]byte("z"), 300<<10))
		if code := closeStatus(t, c); code != websocket.StatusMessageTooBig {
			t.Errorf("close status = %v, want 1009", code)
		}
		var ce *wsnet.CloseError
		if err := e.end(t); !errors.As(err, &ce) || ce.Code != wsnet.StatusMessageTooBig {
			t.Errorf("OnClose(%v), want our 1009", err)
		}
	})
}

// wrapped is a listener's accounting wrapper around a socket; unwrap says
// whether it offers the socket underneath (wsnet.Unwrapper).
type wrapped struct {
	net.Conn
	once   sync.Once
	closed *atomic.Int64 // wrappers closed, once each
}

func (w *wrapped) Close() error {
	w.once.Do(func() { w.closed.Add(1) })
	return w.Conn.Close()
}

type unwrappable struct{ *wrapped }

func (u unwrappable) UnwrapConn() net.Conn { return u.Conn }

type wrapListener struct {
	net.Listener
	unwrap bool
	closed atomic.Int64
}

func (l *wrapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	w := &wrapped{Conn: c, closed: &l.closed}
	if l.unwrap {
		return unwrappable{w}, nil
	}
	return w, nil
}

func TestWrappedConns(t *testing.T) {
	tests := []struct {
		name   string
		unwrap bool
	}{
		{"a wrapper that offers its socket is polled, and closed at the end", true},
		{"a wrapper that does not is served in stream mode", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := wsnet.NewServer(wsnet.Options{})
			if err != nil {
				t.Fatal(err)
			}
			handlers := make(chan *echo, 100)
			hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				e := newEcho()
				c, err := srv.Upgrade(w, req, e)
				if err != nil {
					return
				}
				handlers <- e
				c.Start()
			}))
			ln := &wrapListener{Listener: hs.Listener, unwrap: tt.unwrap}
			hs.Listener = ln
			hs.Start()
			defer hs.Close()
			defer srv.Close()
			g0 := runtime.NumGoroutine()
			const n = 50
			var clients []*websocket.Conn
			for range n {
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(hs.URL, "http"), nil)
				cancel()
				if err != nil {
					t.Fatalf("Dial = %v", err)
				}
				clients = append(clients, c)
				mustWrite(t, c, websocket.MessageText, []byte("hi"))
				if _, got := mustRead(t, c); string(got) != "hi" {
					t.Fatalf("echo = %q", got)
				}
			}
			// Each client has a goroutine of its own (coder/websocket);
			// the server adds one per connection only in stream mode.
			time.Sleep(50 * time.Millisecond)
			perConn := float64(runtime.NumGoroutine()-g0) / n
			if tt.unwrap && perConn > 0.1 || !tt.unwrap && perConn < 0.9 {
				t.Errorf("%.2f goroutines per connection, client's included", perConn)
			}
			for _, c := range clients {
				c.Close(websocket.StatusNormalClosure, "")
			}
			for range n {
				select {
				case <-handlers:
				default:
				}
			}
			waitFor(t, "every wrapper to be closed", func() bool { return ln.closed.Load() == n })
		})
	}
}

// TestShortWriteKeepsOrder (issue 17): a frame the socket takes only part
// of is finished once the peer reads, the frames sent meanwhile wait behind
// it in order, and a payload shared by several connections arrives whole on
// each.
func TestShortWriteKeepsOrder(t *testing.T) {
	r := newRig(t, modes[0], wsnet.Options{SendQueue: 100})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	var clients []*websocket.Conn
	var conns []*wsnet.Conn
	// A receive buffer this small, but not smaller: below half the
	// loopback MSS the sender only probes the window now and then.
	opts := smallReceiveBuffer(r)
	opts.HTTPClient.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
		}
		return c, err
	}
	for range 3 {
		c, _, err := websocket.Dial(ctx, r.url(), opts)
		if err != nil {
			t.Fatalf("Dial = %v", err)
		}
		c.SetReadLimit(1 << 24)
		defer c.CloseNow()
		r.handler(t)
		clients = append(clients, c)
		conns = append(conns, r.conn(t))
	}
	// Bigger than the socket buffers: the direct write is partial.
	big := make([]byte, 8<<20)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	for _, sc := range conns {
		if err := sc.Send(big); err != nil {
			t.Fatalf("Send = %v", err)
		}
		for i := range 20 {
			if err := sc.Send(fmt.Appendf(nil, "after %d", i)); err != nil {
				t.Fatalf("Send = %v", err)
			}
		}
		if n := sc.Pending(); n == 0 {
			t.Fatalf("Pending = 0 after a frame bigger than the socket buffers")
		}
	}
	for k, c := range clients {
		if _, got := mustRead(t, c); !bytes.Equal(got, big) {
			t.Fatalf("client %d: the big frame arrived changed (%d bytes)", k, len(got))
		}
		for i := range 20 {
			if _, got := mustRead(t, c); string(got) != fmt.Sprintf("after %d", i) {
				t.Fatalf("client %d: frame %d = %q", k, i, got)
			}
		}
	}
	waitFor(t, "the frames to be counted", func() bool { return r.srv.FramesSent() == 3*21 })
}
