// Package wsnet serves WebSocket connections (RFC 6455) without a goroutine
// per connection: on Linux, once net/http has upgraded a plain TCP
// connection, its socket is taken out of the Go runtime's poller and watched
// by an epoll reactor of this package. A connection then costs a small
// struct and a runtime timer while it is idle: no goroutine, no stack, no
// buffer. A goroutine runs only while a connection has bytes to read or
// frames to write, and the read buffer is borrowed from a pool only while a
// frame is in flight.
//
// Connections over TLS, and every connection on other systems, are served
// by the same code in stream mode: a goroutine per connection reading the
// net.Conn, as net/http would.
//
// Only internal/realtime imports it. The protocol is server-side RFC 6455
// without extensions or subprotocols: clients must mask, control frames are
// at most 125 bytes and never fragmented, text messages must be UTF-8, and a
// message (all its fragments together) may be at most Options.ReadLimit
// bytes. Breaking a rule closes the connection with the RFC's code (1002,
// 1007, 1009).
package wsnet

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MessageType is the type of a data message.
type MessageType int

// Message types.
const (
	MessageText   MessageType = opText
	MessageBinary MessageType = opBinary
)

// StatusCode is a close code (RFC 6455 section 7.4).
type StatusCode int

// Close codes. 1005 and 1006 are never sent: they stand for a close frame
// without a code and for a connection that ended without a close frame.
const (
	StatusNormalClosure           StatusCode = 1000
	StatusGoingAway               StatusCode = 1001
	StatusProtocolError           StatusCode = 1002
	StatusUnsupportedData         StatusCode = 1003
	StatusNoStatusReceived        StatusCode = 1005
	StatusAbnormalClosure         StatusCode = 1006
	StatusInvalidFramePayloadData StatusCode = 1007
	StatusPolicyViolation         StatusCode = 1008
	StatusMessageTooBig           StatusCode = 1009
	StatusInternalError           StatusCode = 1011
	StatusServiceRestart          StatusCode = 1012
	StatusTryAgainLater           StatusCode = 1013
)

// CloseError is how a connection ended when a close frame was sent or
// received: Code is the peer's code when the peer closed first, ours
// otherwise.
type CloseError struct {
	Code   StatusCode
	Reason string
	Remote bool // the peer sent the first close frame
}

func (e *CloseError) Error() string {
	who := "local"
	if e.Remote {
		who = "remote"
	}
	return fmt.Sprintf("websocket closed (%s): %d %s", who, e.Code, e.Reason)
}

// Why a connection ended, besides a *CloseError.
var (
	// ErrWriteTimeout: a frame could not be written within
	// Options.WriteTimeout; the peer is not reading.
	ErrWriteTimeout = errors.New("wsnet: write timed out: the peer is not reading")
	// ErrPingTimeout: the peer answered none of the last
	// Options.MaxMissedPongs pings.
	ErrPingTimeout = errors.New("wsnet: the peer stopped answering pings")
	// ErrCut: Cut was called.
	ErrCut = errors.New("wsnet: connection cut")
	// ErrHandlerPanic: OnMessage panicked; the connection was closed with
	// 1011. The error OnClose gets wraps it, with the panic and its stack.
	ErrHandlerPanic = errors.New("wsnet: handler panic")
	// ErrQueueFull is returned by Send when Options.SendQueue frames are
	// waiting already; nothing was queued.
	ErrQueueFull = errors.New("wsnet: send queue full")
	// ErrClosing is returned by Send once the connection is closing.
	ErrClosing = errors.New("wsnet: connection closing")
)

// Handler receives a connection's events. For one connection, calls never
// overlap and come in the order of the frames on the wire.
type Handler interface {
	// OnMessage is called with each complete data message. data is valid
	// only during the call (it lives in a pooled buffer); copy what must
	// outlive it. Messages that arrive once the connection is closing are
	// not delivered. While it runs, nothing more is read from this
	// connection: a slow handler slows only its own client.
	OnMessage(c *Conn, typ MessageType, data []byte)
	// OnClose is called exactly once, after the socket is closed and no
	// goroutine of the connection runs any more, with why it ended: a
	// *CloseError, ErrWriteTimeout, ErrPingTimeout, ErrCut, ErrHandlerPanic
	// (wrapped), or the read or write error. It runs on a goroutine of its own.
	OnClose(c *Conn, err error)
}

// Options tune a Server. A zero field takes its default.
type Options struct {
	// ReadLimit is the most bytes one message may hold, fragments
	// together; default 32 KiB. A bigger message closes with 1009.
	ReadLimit int64
	// SendQueue is how many data frames may wait to be written; default
	// 256. Send returns ErrQueueFull beyond it.
	SendQueue int
	// WriteTimeout bounds how long writing may make no progress; default
	// 10 s. The connection is then cut with ErrWriteTimeout.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings; 0 (the default) sends no
	// pings. A ping is missed when its pong has not come by the next one;
	// after MaxMissedPongs misses in a row the connection is cut with
	// ErrPingTimeout.
	PingInterval   time.Duration
	MaxMissedPongs int // default 2
	// CloseTimeout bounds the wait for the peer's answer to our close
	// frame; default 5 s.
	CloseTimeout time.Duration
	// NoPoll serves every connection in stream mode (a goroutine each),
	// as on systems without epoll. For tests and comparisons.
	NoPoll bool
}

func (o Options) withDefaults() Options {
	if o.ReadLimit <= 0 {
		o.ReadLimit = 32 << 10
	}
	if o.SendQueue <= 0 {
		o.SendQueue = 256
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MaxMissedPongs <= 0 {
		o.MaxMissedPongs = 2
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = 5 * time.Second
	}
	return o
}

// Unwrapper is implemented by a net.Conn that wraps another and passes its
// bytes through unchanged (a listener's accounting wrapper, say): Upgrade
// looks through it for the *net.TCPConn to poll, and closes the wrapper when
// the connection ends. (tls.Conn's NetConn is not followed: its bytes are
// not the socket's.)
type Unwrapper interface {
	UnwrapConn() net.Conn
}

// Server upgrades requests and serves the connections. It is safe for
// concurrent use.
type Server struct {
	opts   Options
	poller *poller // nil: every connection in stream mode
	epoch  time.Time

	framesSent atomic.Uint64
	live       sync.WaitGroup // one per connection not yet released
	closeOnce  sync.Once

	mu      sync.Mutex
	streams map[*Conn]struct{} // connections in stream mode, for Close
}

// NewServer starts a server (and, on Linux, its reactor goroutine). Close
// it to stop the reactor.
func NewServer(opts Options) (*Server, error) {
	s := &Server{opts: opts.withDefaults(), epoch: time.Now(), streams: make(map[*Conn]struct{})}
	if !opts.NoPoll {
		p, err := newPoller()
		if err != nil {
			return nil, fmt.Errorf("new websocket server: %w", err)
		}
		s.poller = p
	}
	return s, nil
}

// FramesSent is how many data frames have been written in full since
// NewServer.
func (s *Server) FramesSent() uint64 { return s.framesSent.Load() }

// Close cuts the connections still open, waits for their OnClose calls to
// start, and stops the reactor. Closing twice is not an error.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var all []*Conn
		if s.poller != nil {
			all = s.poller.all()
		}
		s.mu.Lock()
		for c := range s.streams {
			all = append(all, c)
		}
		s.mu.Unlock()
		for _, c := range all {
			c.Cut()
		}
		s.live.Wait()
		if s.poller != nil {
			s.poller.close()
		}
	})
	return nil
}

// Upgrade answers the WebSocket handshake of r and takes over its
// connection. On error it has already answered the request (400, 403, 405,
// 426 or 500, as coder/websocket did). The returned connection sends what
// is given to Send at once but reads nothing until Start or Close: the
// caller may put frames first. Nothing of w or r is kept.
func (s *Server) Upgrade(w http.ResponseWriter, r *http.Request, h Handler) (*Conn, error) {
	if code, err := verifyRequest(w, r); err != nil {
		http.Error(w, err.Error(), code)
		return nil, fmt.Errorf("websocket upgrade: %w", err)
	}
	if err := checkOrigin(r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return nil, fmt.Errorf("websocket upgrade: %w", err)
	}
	raw, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return nil, fmt.Errorf("websocket upgrade: hijack: %w", err)
	}
	// The 101 goes straight to the socket: net/http's buffered writer is
	// left empty.
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(strings.TrimSpace(r.Header.Get("Sec-WebSocket-Key"))) + "\r\n\r\n"
	if err := brw.Writer.Flush(); err == nil {
		_ = raw.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
		_, err = raw.Write([]byte(resp))
	}
	if err != nil {
		_ = raw.Close()
		return nil, fmt.Errorf("websocket upgrade: write 101: %w", err)
	}
	_ = raw.SetDeadline(time.Time{})
	// Bytes the client sent right behind its handshake.
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		early = b
	}
	c := &Conn{srv: s, h: h, fd: -1}
	if s.poller != nil {
		inner := raw
		for {
			u, ok := inner.(Unwrapper)
			if !ok {
				break
			}
			inner = u.UnwrapConn()
		}
		if tc, ok := inner.(*net.TCPConn); ok {
			fd, err := detach(tc)
			if err != nil {
				_ = raw.Close()
				return nil, fmt.Errorf("websocket upgrade: %w", err)
			}
			c.fd = fd
			if inner != raw {
				c.wrapper = raw
			}
		}
	}
	if c.fd < 0 {
		c.nc = raw
	}
	if len(early) > 0 {
		c.in = getBuf(len(early))
		*c.in = append((*c.in)[:0], early...)
	}
	s.live.Add(1)
	if c.fd < 0 {
		s.mu.Lock()
		s.streams[c] = struct{}{}
		s.mu.Unlock()
	} else {
		if err := s.poller.add(c); err != nil {
			closeFd(c.fd)
			putBuf(c.in)
			s.live.Done()
			return nil, fmt.Errorf("websocket upgrade: %w", err)
		}
	}
	return c, nil
}

func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.streams, c)
	s.mu.Unlock()
}

func verifyRequest(w http.ResponseWriter, r *http.Request) (int, error) {
	if !r.ProtoAtLeast(1, 1) {
		return http.StatusUpgradeRequired, fmt.Errorf("WebSocket protocol violation: handshake request must be at least HTTP/1.1: %q", r.Proto)
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return http.StatusUpgradeRequired, errors.New("WebSocket protocol violation: the Connection header does not contain Upgrade")
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Upgrade", "websocket")
		return http.StatusUpgradeRequired, errors.New("WebSocket protocol violation: the Upgrade header does not contain websocket")
	}
	if r.Method != http.MethodGet {
		return http.StatusMethodNotAllowed, fmt.Errorf("WebSocket protocol violation: handshake request method is not GET but %q", r.Method)
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return http.StatusBadRequest, errors.New("unsupported WebSocket protocol version (only 13 is supported)")
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return http.StatusBadRequest, errors.New("WebSocket protocol violation: exactly one Sec-WebSocket-Key is required")
	}
	if v, err := base64.StdEncoding.DecodeString(strings.TrimSpace(keys[0])); err != nil || len(v) != 16 {
		return http.StatusBadRequest, errors.New("WebSocket protocol violation: Sec-WebSocket-Key must be 16 bytes in base64")
	}
	return 0, nil
}

// checkOrigin refuses a browser page of another host (cross-site WebSocket
// hijacking): the Origin, when present, must name the request's Host.
func checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return errors.New("request Origin is not a valid URL with a host")
	}
	if !strings.EqualFold(r.Host, u.Host) {
		return fmt.Errorf("request Origin %q is not authorized for Host %q", u.Host, r.Host)
	}
	return nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}
