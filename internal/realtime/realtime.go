// Package realtime is the WebSocket side of tkesj: it holds the connections
// of the people connected to this node, delivers the frames of bus events to
// them and hands the frames clients send to the service.
//
// Only internal/app (which wires it) and internal/httpapi (which
// authenticates a request and calls Hub.ServeWS) import it.
//
// A Hub never lets a connection hold up anyone else: every connection has a
// bounded send queue, enqueueing never blocks, and a connection whose queue is
// full (or that does not read a frame within the write timeout) is closed as a
// slow consumer. The client reconnects and catches up from its last seq.
package realtime

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/wire"
	"github.com/tkesj/tkesj/internal/wsnet"
)

// Handler is the service's side of a connection.
type Handler interface {
	// ReadyFrame returns the JSON "ready" frame for a person who just connected:
	// {"type":"ready", ...sync summary...}. It is sent first, before any event.
	ReadyFrame(ctx context.Context, userID string) ([]byte, error)
	// ClientFrame handles one JSON text frame a client sent (ack, read, typing, ping...).
	// A returned *tkesj.Error is sent back as {"type":"error","code":...,"detail":...}; the connection stays open.
	ClientFrame(ctx context.Context, userID string, deviceIdx []byte, frame []byte) error
}

// Peer is who a connection serves, as the caller of ServeWS authenticated
// them, and what answers the requests they send on it.
type Peer struct {
	UserID    string
	DeviceIdx []byte
	// Requests, when set, is offered every client frame other than ping
	// before the Handler; see Requests.
	Requests Requests
}

// Requests answers a client's request frames: frames that ask the server to
// do something on the person's behalf (a "send") and get exactly one answer
// frame on the same socket. typ is the frame's "type". It returns ok false
// for a frame that is not a request, which then goes to the Handler; an ok
// answer is queued for the client (nil: nothing to say, the connection is
// going away). It runs on the connection's reading goroutine, so one
// connection's requests are handled one at a time and answered in the order
// they came, and ctx ends with the connection. Request frames pass the
// socket's read limit and frame rate limit first, like every other frame.
type Requests func(ctx context.Context, typ string, frame []byte) (answer []byte, ok bool)

// Options tune a Hub. A zero field takes its default; a negative one is an
// error.
type Options struct {
	SendQueue    int           // frames queued per connection before it counts as slow; default 256
	ReadLimit    int64         // max bytes of one client frame; default 8 KiB
	PingInterval time.Duration // default 30 s; a connection that misses 2 pongs is closed
	FramesPerSec float64       // client frame rate limit per connection; default 20, burst 40; over it -> error frame "rate_limited"; 10 violations -> close (policy violation)
	WriteTimeout time.Duration // default 10 s per frame; a client that does not read within it is slow
	// MaxPerUser is how many sockets one person may hold on this node at
	// once (API.md, R-SEC-5); default 20. Beyond it the upgrade answers 429
	// too_many_connections, so no account can use up the node's file
	// descriptors.
	MaxPerUser int
	// Presence, when set, is told when a person's first live socket on this
	// hub opens (true) and when their last one stops being live (false).
	// A socket is live from the moment it is registered (frames published
	// from then on reach it, behind the ready frame) until it begins to
	// close for any reason: signed out, too slow, over the rate limit, its
	// pings unanswered, the peer gone, the hub closing; from then on no
	// frame is queued for it. Calls for one person come in order. They are
	// made under a hub lock: Presence must not block or call the hub.
	Presence func(userID string, online bool)
}

// Defaults of Options.
const (
	DefaultSendQueue    = 256
	DefaultReadLimit    = 8 << 10
	DefaultPingInterval = 30 * time.Second
	DefaultFramesPerSec = 20
	DefaultWriteTimeout = 10 * time.Second
	DefaultMaxPerUser   = 20
)

const (
	// maxViolations is how many frames over the rate limit a connection may
	// send before it is closed.
	maxViolations = 10
	// maxMissedPongs is how many pings in a row may go unanswered.
	maxMissedPongs = 2
	// closeTimeout bounds the wait for a client's answer to our close
	// frame (coder/websocket, used before internal/wsnet, waited 5 s).
	closeTimeout = 5 * time.Second
	// closeWait bounds how long Hub.Close waits for connections to finish
	// their close handshake before cutting them off, and cutWait how long it
	// then waits for them to end.
	closeWait = 4 * time.Second
	cutWait   = time.Second
	// maxRequestID bounds the id of a request frame that a refusal repeats
	// (httpapi refuses longer ones).
	maxRequestID = 128
	// shardCount spreads the user -> connections index over this many locks.
	shardCount = 32
)

// Close codes the hub sends. 4001 is ours (the 4000-4999 range is private).
const (
	statusSignedOut websocket.StatusCode = 4001
)

// Control events understood by the hub (tkesj.Event.Control).
const (
	controlCloseDevice = "close_device"
	controlCloseUser   = "close_user"
	// controlCloseOthers closes every socket of the person except those of
	// the event's device: a password change signs the other devices out.
	controlCloseOthers = "close_others"
	// controlDeviceFrame sends Frame only to Users[0]'s connections on
	// device DeviceIdx (a call's signals go to the device in the call).
	controlDeviceFrame = "device_frame"
	// controlCallNode is for the calls service of one node; hubs ignore it.
	controlCallNode = "call_node"
	// controlCacheInvalidate is for every node's messaging caches
	// (kernel.ControlInvalidate); hubs ignore it.
	controlCacheInvalidate = "cache_invalidate"
	// controlPresence carries who is online on which node
	// (internal/presence.Control); hubs ignore it.
	controlPresence = "presence"
)

// Hub holds this node's WebSocket connections and delivers bus events to them.
// It is safe for concurrent use.
type Hub struct {
	handler     Handler
	log         *slog.Logger
	opts        Options
	unsubscribe func()
	epoch       time.Time // the rate limiter's clock starts here
	seed        maphash.Seed
	shards      [shardCount]shard
	ws          *wsnet.Server // the WebSocket transport

	mu          sync.Mutex // guards closed, the close code and serving.Add
	closed      bool
	closeCode   websocket.StatusCode // what connections are closed with once closed
	closeReason string
	serving     sync.WaitGroup // one per connection (or ServeWS call refused) not yet ended

	conns          atomic.Int64
	slowDropped    atomic.Uint64
	framesReceived atomic.Uint64
	rateLimited    atomic.Uint64
	tooMany        atomic.Uint64

	// Frames the hub itself sends, encoded once.
	pongFrame        []byte
	rateLimitedFrame []byte
	malformedFrame   []byte
	unsupportedFrame []byte
	tooManyProblem   []byte // the 429 answer's body (API.md's problem format)
}

// shard indexes the connections of some users. Delivery takes the read lock;
// connecting and disconnecting take the write lock.
type shard struct {
	mu    sync.RWMutex
	users map[string][]*conn
	held  map[string]int // sockets each user holds or is opening, for MaxPerUser

	// liveMu guards live and every conn's liveness fields. It is taken
	// under mu or a conn's mu and takes nothing but Options.Presence's own
	// lock, so it cannot deadlock with either.
	liveMu sync.Mutex
	live   map[string]int // live sockets per user, when Options.Presence is set
}

// New returns a hub that delivers the events of bus to the connections it
// serves, calling h for ready frames and client frames. log receives only
// opaque ids and counts, never frame contents; nil discards. Close the hub to
// end its subscription.
func New(bus tkesj.Bus, h Handler, log *slog.Logger, opts Options) (*Hub, error) {
	if bus == nil || h == nil {
		return nil, fmt.Errorf("new realtime hub: %w", tkesj.Errorf(tkesj.EInvalid, "missing_dependency", "the event bus and the handler are required"))
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("new realtime hub: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hub := &Hub{
		handler:          h,
		log:              log,
		opts:             opts,
		epoch:            time.Now(),
		seed:             maphash.MakeSeed(),
		pongFrame:        []byte(`{"type":"pong"}`), // wire.PongFrame
		rateLimitedFrame: errorFrame("rate_limited", "you are sending too fast; slow down"),
		malformedFrame:   errorFrame("malformed_json", "a frame must be a JSON object"),
		unsupportedFrame: errorFrame("unsupported_frame", "only JSON text frames are accepted"),
	}
	hub.tooManyProblem, _ = json.Marshal(wire.Problem{Type: "urn:tkesj:problem:too_many_connections", Title: "Too Many Requests",
		Status: http.StatusTooManyRequests, Code: "too_many_connections",
		Detail: fmt.Sprintf("you have %d connections open already; close one (another tab or device) first", opts.MaxPerUser)})
	for i := range hub.shards {
		hub.shards[i].users = make(map[string][]*conn)
		hub.shards[i].held = make(map[string]int)
		hub.shards[i].live = make(map[string]int)
	}
	hub.ws, err = wsnet.NewServer(wsnet.Options{
		ReadLimit:      opts.ReadLimit,
		SendQueue:      opts.SendQueue,
		WriteTimeout:   opts.WriteTimeout,
		PingInterval:   opts.PingInterval,
		MaxMissedPongs: maxMissedPongs,
		CloseTimeout:   closeTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("new realtime hub: %w", err)
	}
	unsubscribe, err := bus.Subscribe(hub.deliver)
	if err != nil {
		_ = hub.ws.Close()
		return nil, fmt.Errorf("new realtime hub: subscribe: %w", err)
	}
	hub.unsubscribe = unsubscribe
	return hub, nil
}

func (o Options) withDefaults() (Options, error) {
	if o.SendQueue < 0 || o.ReadLimit < 0 || o.PingInterval < 0 || o.FramesPerSec < 0 || o.WriteTimeout < 0 || o.MaxPerUser < 0 {
		return o, tkesj.Errorf(tkesj.EInvalid, "negative_option", "realtime options may not be negative")
	}
	if o.SendQueue == 0 {
		o.SendQueue = DefaultSendQueue
	}
	if o.ReadLimit == 0 {
		o.ReadLimit = DefaultReadLimit
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.FramesPerSec == 0 {
		o.FramesPerSec = DefaultFramesPerSec
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxPerUser == 0 {
		o.MaxPerUser = DefaultMaxPerUser
	}
	return o, nil
}

// Stats are the hub's counters since New. Connections is the number of
// connections held now; the rest only grow.
type Stats struct {
	Connections    int
	SlowDropped    uint64 // connections closed because they did not keep up
	FramesSent     uint64 // frames written to clients
	FramesReceived uint64 // data frames read from clients
	RateLimited    uint64 // client frames refused for going over the rate limit
	TooMany        uint64 // upgrades refused because the person held MaxPerUser sockets
}

// Stats reports the hub's counters.
func (h *Hub) Stats() Stats {
	return Stats{
		Connections:    int(h.conns.Load()),
		SlowDropped:    h.slowDropped.Load(),
		FramesSent:     h.ws.FramesSent(),
		FramesReceived: h.framesReceived.Load(),
		RateLimited:    h.rateLimited.Load(),
		TooMany:        h.tooMany.Load(),
	}
}

// Close ends the bus subscription, closes every connection with status 1001
// (going away) and waits, a bounded time, for every connection to end.
// Connections that have not finished their close handshake by then are cut
// off. ServeWS calls made after Close answer 503. Closing twice is not an
// error.
func (h *Hub) Close() error {
	return h.closeWith(websocket.StatusGoingAway, "going away")
}

// Restart is Close for a node that stops while others serve on (graceful
// drain): connections are closed with status 1012 (service restart), which
// tells clients to reconnect at once, through the load balancer, to another
// node. The web client does so without back-off.
func (h *Hub) Restart() error {
	return h.closeWith(websocket.StatusServiceRestart, "service restart: reconnect")
}

func (h *Hub) closeWith(code websocket.StatusCode, reason string) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	h.closeCode, h.closeReason = code, reason
	h.mu.Unlock()
	h.unsubscribe()

	all := h.allConns()
	for _, c := range all {
		c.shutdown(code, reason, false)
	}
	if waitTimeout(&h.serving, closeWait) {
		return h.ws.Close()
	}
	for _, c := range h.allConns() {
		c.cut()
	}
	if waitTimeout(&h.serving, cutWait) {
		return h.ws.Close()
	}
	// The transport is left running: a connection still open has a
	// goroutine in the Handler, which closing it would wait for.
	return fmt.Errorf("close realtime hub: %d connections still open after %v", h.conns.Load(), closeWait+cutWait)
}

// waitTimeout waits for wg up to d and reports whether it finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// enter counts a connection (until it ends, or until ServeWS refuses it);
// it reports false once the hub is closed.
func (h *Hub) enter() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.serving.Add(1)
	return true
}

func (h *Hub) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// reserve counts one more socket for userID, or reports false when the
// person already holds MaxPerUser. Every true is matched by one release.
func (h *Hub) reserve(userID string) bool {
	s := h.shard(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[userID] >= h.opts.MaxPerUser {
		return false
	}
	s.held[userID]++
	return true
}

func (h *Hub) release(userID string) {
	s := h.shard(userID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held[userID]--; s.held[userID] <= 0 {
		delete(s.held, userID)
	}
}

func (h *Hub) shard(userID string) *shard {
	return &h.shards[maphash.String(h.seed, userID)%shardCount]
}

// register makes c reachable by deliveries. If the hub closed meanwhile, c
// is closed at once: either Close saw it in the index, or it sees Close here.
func (h *Hub) register(c *conn) {
	s := h.shard(c.userID)
	s.mu.Lock()
	s.users[c.userID] = append(s.users[c.userID], c)
	s.mu.Unlock()
	h.setLive(c, true)
	h.conns.Add(1)
	h.mu.Lock()
	closed, code, reason := h.closed, h.closeCode, h.closeReason
	h.mu.Unlock()
	if closed {
		c.shutdown(code, reason, false)
	}
}

func (h *Hub) unregister(c *conn) {
	s := h.shard(c.userID)
	s.mu.Lock()
	list := slices.DeleteFunc(s.users[c.userID], func(x *conn) bool { return x == c })
	if len(list) == 0 {
		delete(s.users, c.userID)
	} else {
		s.users[c.userID] = list
	}
	s.mu.Unlock()
	h.setLive(c, false)
	h.conns.Add(-1)
}

// setLive counts c in (live) or out of its person's live sockets and tells
// Options.Presence when the count leaves or returns to zero. A connection is
// live at most once: once counted out (it began to close, or ended, perhaps
// before it was registered) it is never counted in again.
func (h *Hub) setLive(c *conn, live bool) {
	if h.opts.Presence == nil {
		return
	}
	s := h.shard(c.userID)
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	switch {
	case live && !c.live && !c.dead:
		c.live = true
		if s.live[c.userID]++; s.live[c.userID] == 1 {
			h.opts.Presence(c.userID, true)
		}
	case !live && !c.dead:
		c.dead = true
		if !c.live {
			return
		}
		c.live = false
		if s.live[c.userID]--; s.live[c.userID] <= 0 {
			delete(s.live, c.userID)
			h.opts.Presence(c.userID, false)
		}
	}
}

func (h *Hub) allConns() []*conn {
	var all []*conn
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.RLock()
		for _, list := range s.users {
			all = append(all, list...)
		}
		s.mu.RUnlock()
	}
	return all
}

// deliver is the bus subscription. It never blocks: enqueueing on a
// connection either succeeds at once or closes that connection as slow.
func (h *Hub) deliver(e tkesj.Event) {
	switch e.Control {
	case "":
		if len(e.Frame) == 0 {
			return
		}
		for _, userID := range e.Users {
			s := h.shard(userID)
			s.mu.RLock()
			for _, c := range s.users[userID] {
				c.enqueue(e.Frame)
			}
			s.mu.RUnlock()
		}
	case controlCallNode, controlCacheInvalidate, controlPresence:
	case controlDeviceFrame:
		if len(e.Users) == 0 || len(e.Frame) == 0 {
			return
		}
		s := h.shard(e.Users[0])
		s.mu.RLock()
		for _, c := range s.users[e.Users[0]] {
			if bytes.Equal(c.deviceIdx, e.DeviceIdx) {
				c.enqueue(e.Frame)
			}
		}
		s.mu.RUnlock()
	case controlCloseDevice, controlCloseUser, controlCloseOthers:
		if len(e.Users) == 0 {
			return
		}
		userID := e.Users[0]
		s := h.shard(userID)
		s.mu.RLock()
		for _, c := range s.users[userID] {
			if e.Control == controlCloseDevice && !bytes.Equal(c.deviceIdx, e.DeviceIdx) ||
				e.Control == controlCloseOthers && bytes.Equal(c.deviceIdx, e.DeviceIdx) {
				continue
			}
			if len(e.Frame) > 0 {
				c.enqueue(e.Frame)
			}
			c.shutdown(statusSignedOut, "signed out", true)
		}
		s.mu.RUnlock()
	default:
		// A newer node may publish controls this one does not know; acting
		// on half of an event would be worse than ignoring it.
		h.log.Warn("realtime: unknown control event ignored", "control", e.Control, "users", len(e.Users))
	}
}

// errorFrame encodes {"type":"error","code":code,"detail":detail}.
func errorFrame(code, detail string) []byte {
	// Marshalling a struct of strings cannot fail.
	b, _ := json.Marshal(wire.ErrorFrame{Type: "error", Code: code, Detail: detail})
	return b
}

// errorFrameFor turns an error from the Handler into an error frame. Only a
// *tkesj.Error's code and user-safe message are sent; anything else is
// reported as internal, and its cause is logged by the caller.
func errorFrameFor(err error) []byte {
	var e *tkesj.Error
	if errors.As(err, &e) && e.Kind != tkesj.EInternal {
		return errorFrame(e.Code, e.Message)
	}
	in := tkesj.Internal(err)
	return errorFrame(in.Code, in.Message)
}

// deviceAttr logs a device index, which is an opaque number, as hex.
func deviceAttr(deviceIdx []byte) slog.Attr {
	return slog.String("device", hex.EncodeToString(deviceIdx))
}
