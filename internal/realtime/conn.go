package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/wire"
)

// conn is one WebSocket connection.
//
// An idle connection costs one goroutine (the ServeWS call, parked in Read),
// a timer for the next ping and small buffers. The writer goroutine exists
// only while frames wait to be written: enqueue starts it when the queue goes
// from empty to non-empty and it exits once the queue is drained, dropping
// the queue's backing array. Closing is done by the writer (when the queue
// must be flushed first) or by a short-lived closer goroutine.
type conn struct {
	hub       *Hub
	ws        *websocket.Conn
	raw       net.Conn // the hijacked socket, to cut off a peer that will not close
	userID    string
	deviceIdx []byte
	requests  Requests        // answers request frames; nil: none
	ctx       context.Context // for Handler calls; ends with the connection
	cancel    context.CancelFunc

	mu          sync.Mutex
	queue       [][]byte // frames waiting for the writer; nil while idle
	pending     int      // frames queued or being written; bounded by Options.SendQueue
	ready       bool     // the ready frame is at the head of the queue: writing may start
	writing     bool     // a writer goroutine is running
	closeCode   websocket.StatusCode
	closeReason string
	closing     bool // the close handshake has been started; no frame may be written
	done        bool // ServeWS is finishing; no goroutine may start
	timer       *time.Timer
	missedPongs int
	wg          sync.WaitGroup // writer, closer and heartbeat goroutines

	// Rate limiter state, used only by the reading goroutine.
	tokens     float64
	last       time.Duration // since hub.epoch
	violations int
}

// ServeWS upgrades an already-authenticated request and runs the connection until it ends.
//
// The connection is registered before the ready frame is fetched, and the
// ready frame is put at the head of its queue: so it is always the first
// frame, and no event published after registration is lost (events that
// arrive while the summary is fetched follow it; the client de-duplicates by
// seq). ServeWS returns once the connection is closed, unregistered and every
// goroutine it started has ended. After Hub.Close it answers 503.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, p Peer) {
	// This goroutine stays parked in the read loop for the life of the
	// connection, so its stack is most of an idle connection's cost: the
	// setup and the handling of frames live in other functions, keeping
	// the frames on the parked stack small enough for it to shrink to 8 KiB.
	c := h.open(w, r, p)
	if c == nil {
		return
	}
	var end error
	// Deferred, so that a panicking Handler still leaves the hub clean.
	defer func() { h.end(c, end) }()
	if c.start() {
		end = c.readLoop()
	}
}

// open upgrades the request and registers the connection. It returns nil
// when the request was answered otherwise.
func (h *Hub) open(w http.ResponseWriter, r *http.Request, p Peer) *conn {
	userID, deviceIdx := p.UserID, p.DeviceIdx
	if !h.enter() {
		http.Error(w, "the server is shutting down; reconnect shortly", http.StatusServiceUnavailable)
		return nil
	}
	if !h.reserve(userID) {
		h.serving.Done()
		h.tooMany.Add(1)
		h.log.Info("realtime: too many connections", "user", userID, "max", h.opts.MaxPerUser)
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write(h.tooManyProblem)
		return nil
	}
	sw := &smallBuffers{ResponseWriter: w}
	ws, err := websocket.Accept(sw, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		// Accept has already answered the request.
		h.log.Debug("realtime: upgrade refused", "user", userID, "err", err)
		h.release(userID)
		h.serving.Done()
		return nil
	}
	ws.SetReadLimit(h.opts.ReadLimit)
	c := &conn{
		hub:       h,
		ws:        ws,
		raw:       sw.raw,
		userID:    userID,
		deviceIdx: bytes.Clone(deviceIdx),
		requests:  p.Requests,
		tokens:    h.burst(),
		last:      time.Since(h.epoch),
	}
	// The request's context ends when the handler returns; the connection
	// keeps its values (request id, logger) and gets its own end.
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(r.Context()))
	h.register(c)
	h.log.Debug("realtime: connected", "user", userID, deviceAttr(deviceIdx))
	return c
}

// end unregisters c, waits for its goroutines and ends the ServeWS call.
func (h *Hub) end(c *conn, end error) {
	h.unregister(c)
	h.release(c.userID)
	c.finish()
	c.cancel()
	h.log.Debug("realtime: disconnected", "user", c.userID, deviceAttr(c.deviceIdx), "status", int(websocket.CloseStatus(end)))
	h.serving.Done()
}

func (h *Hub) burst() float64 { return max(1, 2*h.opts.FramesPerSec) }

// start puts the ready frame at the head of the queue and arms the
// heartbeat. It reports false if the connection is being closed instead.
func (c *conn) start() bool {
	ready, err := c.hub.handler.ReadyFrame(c.ctx, c.userID)
	if err != nil && c.ctx.Err() != nil {
		return false // closed while the summary was fetched
	}
	if err != nil {
		code, reason := websocket.StatusInternalError, "internal error"
		switch tkesj.ErrorKindOf(err) {
		case tkesj.EUnauthenticated, tkesj.EForbidden, tkesj.ENotFound:
			code, reason = statusSignedOut, "signed out"
		case tkesj.EUnavailable:
			code, reason = websocket.StatusTryAgainLater, "try again later"
		default:
			c.hub.log.Error("realtime: ready frame", "user", c.userID, "err", err)
		}
		c.shutdown(code, reason, false)
		return false
	}
	c.mu.Lock()
	if c.done || c.closing {
		c.mu.Unlock()
		return false
	}
	c.queue = slices.Insert(c.queue, 0, ready)
	c.pending++
	c.ready = true
	var a action
	if !c.writing {
		c.writing = true
		c.wg.Add(1)
		a = startWriter
	}
	c.timer = time.AfterFunc(c.hub.opts.PingInterval, c.heartbeat)
	c.mu.Unlock()
	c.run(a)
	return true
}

// finish ends the connection after its read loop: no goroutine may start any
// more, the socket is closed unless a close handshake is under way, and it
// waits for the goroutines already running.
func (c *conn) finish() {
	c.mu.Lock()
	c.done = true
	c.queue = nil
	closing := c.closing
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	if !closing {
		// Nobody is closing it gracefully (the peer left, or broke the
		// protocol): closing now also frees a writer stuck on a dead peer.
		_ = c.ws.CloseNow()
	}
	c.wg.Wait()
	// A close handshake that gave up has still closed the socket; this
	// only makes sure of it.
	_ = c.ws.CloseNow()
}

// cut closes the socket under the WebSocket, for a peer that does not
// finish the close handshake.
func (c *conn) cut() { _ = c.raw.Close() }

type action int

const (
	nothing action = iota
	startWriter
	startCloser
	cutSocket
)

func (c *conn) run(a action) {
	switch a {
	case startWriter:
		go c.writeLoop()
	case startCloser:
		go c.sendClose()
	case cutSocket:
		c.cut()
	}
}

// enqueue queues f for the client without blocking. A connection whose
// queue is full is closed as slow, and f is dropped for it.
func (c *conn) enqueue(f []byte) {
	c.mu.Lock()
	if c.done || c.closeCode != 0 {
		c.mu.Unlock()
		return
	}
	if c.pending >= c.hub.opts.SendQueue {
		a := c.beginCloseLocked(websocket.StatusTryAgainLater, "slow consumer", closeNow)
		c.mu.Unlock()
		c.hub.slowDropped.Add(1)
		c.hub.log.Info("realtime: dropped a slow consumer", "user", c.userID, deviceAttr(c.deviceIdx), "cause", "queue full", "queued", c.hub.opts.SendQueue)
		c.run(a)
		return
	}
	c.queue = append(c.queue, f)
	c.pending++
	var a action
	if c.ready && !c.writing {
		c.writing = true
		c.wg.Add(1)
		a = startWriter
	}
	c.mu.Unlock()
	c.run(a)
}

// shutdown closes the connection with code and reason, without blocking.
// With flush, frames already queued are written first (bounded by the write
// timeout); without, they are dropped. An immediate close may overtake a
// flushing one; otherwise the first close wins.
func (c *conn) shutdown(code websocket.StatusCode, reason string, flush bool) {
	mode := closeNow
	if flush {
		mode = closeAfterQueue
	}
	c.mu.Lock()
	a := c.beginCloseLocked(code, reason, mode)
	c.mu.Unlock()
	c.run(a)
}

// How a connection is closed.
type closeMode int

const (
	closeAfterQueue closeMode = iota // write the queue, then the close handshake
	closeNow                         // drop the queue, close handshake at once
	closeCut                         // drop the queue and the socket: the peer is gone
)

func (c *conn) beginCloseLocked(code websocket.StatusCode, reason string, mode closeMode) action {
	if c.done || c.closing {
		return nothing
	}
	if c.closeCode != 0 && mode == closeAfterQueue {
		return nothing
	}
	c.closeCode, c.closeReason = code, reason
	switch mode {
	case closeNow, closeCut:
		c.closing = true
		c.queue = nil
		c.pending = 0
		c.cancel() // a Handler call still running is of no use now
		if mode == closeCut {
			return cutSocket
		}
		c.wg.Add(1)
		return startCloser
	}
	if c.writing || !c.ready {
		// The running writer, or the one start will begin, closes after
		// the queue.
		return nothing
	}
	c.writing = true
	c.wg.Add(1)
	return startWriter
}

// sendClose runs the close handshake. It takes at most about 10 s (the
// library's bounds for writing the close frame and awaiting the answer) and
// closes the socket in every case.
func (c *conn) sendClose() {
	defer c.wg.Done()
	c.mu.Lock()
	code, reason := c.closeCode, c.closeReason
	c.mu.Unlock()
	_ = c.ws.Close(code, reason)
}

// writeLoop writes queued frames until the queue is empty, then exits. It
// swaps the queue for a spare slice so that enqueue never waits for a write.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	var spare [][]byte
	for {
		c.mu.Lock()
		if c.closing || c.done {
			c.writing = false
			c.queue = nil
			c.mu.Unlock()
			return
		}
		if len(c.queue) == 0 {
			c.writing = false
			c.queue = nil // an idle connection keeps no queue
			if c.closeCode == 0 {
				// Control frames (pongs, pings) are written without the
				// writer: lift its deadline, before another writer can
				// start and set its own.
				_ = c.raw.SetWriteDeadline(time.Time{})
				c.mu.Unlock()
				return
			}
			// A close that waited for the queue to drain.
			c.closing = true
			code, reason := c.closeCode, c.closeReason
			c.mu.Unlock()
			_ = c.ws.Close(code, reason)
			return
		}
		batch := c.queue
		c.queue = spare
		c.mu.Unlock()

		for i, f := range batch {
			err := c.write(f)
			batch[i] = nil
			c.mu.Lock()
			if c.pending > 0 {
				c.pending--
			}
			stop := c.closing || c.done
			c.mu.Unlock()
			if err != nil {
				c.writeFailed(err)
				break
			}
			if stop {
				break
			}
		}
		clear(batch)
		spare = batch[:0]
	}
}

// write writes one frame within the write timeout. The timeout is a socket
// deadline rather than a context: the library keeps the context of the last
// write, which would cost every idle connection a context and a timer.
func (c *conn) write(f []byte) error {
	if err := c.raw.SetWriteDeadline(time.Now().Add(c.hub.opts.WriteTimeout)); err != nil {
		return err
	}
	if err := c.ws.Write(context.Background(), websocket.MessageText, f); err != nil {
		return err
	}
	c.hub.framesSent.Add(1)
	return nil
}

// writeFailed handles a write error: the connection is unusable. A write
// that timed out means the client is not reading: it is slow.
func (c *conn) writeFailed(err error) {
	c.mu.Lock()
	already := c.closing || c.done
	if !already {
		c.closing = true
		if c.closeCode == 0 {
			c.closeCode, c.closeReason = websocket.StatusTryAgainLater, "slow consumer"
		}
		c.queue = nil
		c.pending = 0
		c.cancel()
	}
	c.mu.Unlock()
	if already {
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.hub.slowDropped.Add(1)
		c.hub.log.Info("realtime: dropped a slow consumer", "user", c.userID, deviceAttr(c.deviceIdx), "cause", "write timeout")
	}
	// Nothing more can be said on this connection, not even a close frame.
	c.cut()
}

// heartbeat runs on the ping timer: it pings the client and re-arms the
// timer. A ping unanswered within PingInterval is missed; after
// maxMissedPongs in a row the connection is closed. After a miss the next
// ping goes at once, since a whole interval has already passed.
func (c *conn) heartbeat() {
	c.mu.Lock()
	if c.done || c.closing {
		c.mu.Unlock()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	defer c.wg.Done()

	interval := c.hub.opts.PingInterval
	ctx, cancel := context.WithTimeout(context.Background(), interval)
	err := c.ws.Ping(ctx)
	cancel()

	c.mu.Lock()
	if c.done || c.closing {
		c.mu.Unlock()
		return
	}
	next := interval
	if err == nil {
		c.missedPongs = 0
	} else {
		c.missedPongs++
		next = 0
	}
	if c.missedPongs >= maxMissedPongs {
		// The peer is gone or hopelessly behind: waiting for it to answer
		// a close frame would only hold the connection longer.
		a := c.beginCloseLocked(websocket.StatusGoingAway, "ping timeout", closeCut)
		c.mu.Unlock()
		c.hub.log.Info("realtime: closing a connection that stopped answering pings", "user", c.userID, deviceAttr(c.deviceIdx))
		c.run(a)
		return
	}
	c.timer.Reset(next)
	c.mu.Unlock()
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode != 0 || c.done
}

// readLoop reads client frames until the connection ends, and returns why.
// It runs on the ServeWS goroutine, so a client's frames are handled one at a
// time, in order, and a slow Handler only slows that client's reading.
func (c *conn) readLoop() error {
	for {
		// No deadline: a deadline would cost an idle connection a timer.
		// Close, the heartbeat and finish unblock this read.
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return err
		}
		c.handle(typ, data)
	}
}

// handle answers one client frame.
func (c *conn) handle(typ websocket.MessageType, data []byte) {
	h := c.hub
	h.framesReceived.Add(1)
	if c.isClosing() {
		// The close handshake is under way; what the client still sends
		// is discarded. Reading on lets the handshake finish.
		return
	}
	if !c.allow() {
		h.rateLimited.Add(1)
		c.violations++
		c.enqueue(h.rateLimitedFor(typ, data))
		if c.violations >= maxViolations {
			h.log.Info("realtime: closing a connection over the rate limit", "user", c.userID, deviceAttr(c.deviceIdx))
			// Flush, so the client sees its error frames before the close.
			c.shutdown(websocket.StatusPolicyViolation, "rate limited", true)
		}
		return
	}
	if typ != websocket.MessageText {
		c.enqueue(h.unsupportedFrame)
		return
	}
	var head struct {
		Type string `json:"type"`
	}
	if !isObject(data) || json.Unmarshal(data, &head) != nil {
		c.enqueue(h.malformedFrame)
		return
	}
	if head.Type == "ping" {
		c.enqueue(h.pongFrame)
		return
	}
	if c.requests != nil {
		if answer, ok := c.request(head.Type, data); ok {
			if answer != nil {
				c.enqueue(answer)
			}
			return
		}
	}
	if err := h.handler.ClientFrame(c.ctx, c.userID, c.deviceIdx, data); err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.EInternal && c.ctx.Err() == nil {
			h.log.Error("realtime: client frame", "user", c.userID, deviceAttr(c.deviceIdx), "err", err)
		}
		c.enqueue(errorFrameFor(err))
	}
}

// request hands a frame to the connection's Requests. A panic there is the
// server's fault, not the client's: it is logged and answered as an internal
// error, and the connection stays open, as after any other refused frame.
func (c *conn) request(typ string, data []byte) (answer []byte, ok bool) {
	defer func() {
		if p := recover(); p != nil {
			c.hub.log.Error("realtime: request frame panicked", "user", c.userID, deviceAttr(c.deviceIdx), "type", typ, "panic", fmt.Sprint(p))
			answer, ok = errorFrameFor(tkesj.Internal(nil)), true
		}
	}()
	return c.requests(c.ctx, typ, data)
}

// rateLimitedFor is the error frame for a frame over the rate limit. A request
// frame's refusal names the frame's id, as its answer would have, so the
// client knows which request to send again later (or over HTTP).
func (h *Hub) rateLimitedFor(typ websocket.MessageType, data []byte) []byte {
	if typ != websocket.MessageText || !isObject(data) {
		return h.rateLimitedFrame
	}
	var f struct {
		ID json.RawMessage `json:"id"`
	}
	var id string
	if json.Unmarshal(data, &f) != nil || len(f.ID) == 0 || f.ID[0] != '"' || json.Unmarshal(f.ID, &id) != nil || id == "" || len(id) > maxRequestID {
		return h.rateLimitedFrame
	}
	b, _ := json.Marshal(wire.ErrorFrame{Type: "error", Code: "rate_limited", Detail: "you are sending too fast; slow down", ID: id})
	return b
}

// allow takes a token from the connection's bucket (FramesPerSec, burst
// twice that). A client that has been quiet long enough for the bucket to
// fill again starts over with no violations.
func (c *conn) allow() bool {
	rate, burst := c.hub.opts.FramesPerSec, c.hub.burst()
	now := time.Since(c.hub.epoch)
	c.tokens = min(burst, c.tokens+rate*(now-c.last).Seconds())
	c.last = now
	if c.tokens >= burst {
		c.violations = 0
	}
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// isObject reports whether data starts like a JSON object (json.Unmarshal
// into a struct accepts null as well).
func isObject(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n")
	return len(data) > 0 && data[0] == '{'
}
