package realtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/wire"
	"github.com/tkesj/tkesj/internal/wsnet"
)

// conn is one WebSocket connection.
//
// It runs on internal/wsnet: once upgraded, an idle connection costs this
// struct, wsnet's (a few hundred bytes and a runtime timer for pings) and
// its socket; no goroutine, no buffer. ServeWS returns as soon as the ready
// frame is queued, so nothing of the HTTP request stays but its context's
// values. Client frames are handled (handle) on a goroutine wsnet starts
// while the socket has bytes, one at a time and in order; frames for the
// client are queued in wsnet, which writes them (coalesced) on a goroutine
// that runs only while frames wait.
type conn struct {
	hub       *Hub
	ws        *wsnet.Conn
	userID    string
	deviceIdx []byte
	requests  Requests        // answers request frames; nil: none
	ctx       context.Context // for Handler calls; ends with the connection
	cancel    context.CancelFunc

	mu          sync.Mutex
	early       [][]byte // frames for the client published before the ready frame was queued
	ready       bool     // the ready frame is queued: frames go straight to wsnet
	closeCode   websocket.StatusCode
	closeReason string
	closing     bool // an immediate close (or a cut) has begun: nothing more is queued
	done        bool // the connection has ended

	// Liveness for Options.Presence, guarded by the shard's liveMu.
	live bool // counted among its person's live sockets
	dead bool // began to close or ended: never counted again

	// Rate limiter state, used only by the reading goroutine.
	tokens     float64
	last       time.Duration // since hub.epoch
	violations int
}

// ServeWS upgrades an already-authenticated request, registers the
// connection and queues its ready frame, then returns; the connection lives
// on until it is closed (Hub.Close waits for it).
//
// The connection is registered before the ready frame is fetched, and the
// ready frame is queued before the frames published meanwhile: so it is
// always the first frame, and no event published after registration is lost
// (events that arrive while the summary is fetched follow it; the client
// de-duplicates by seq). Client frames are read only once the ready frame is
// queued. After Hub.Close it answers 503.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, p Peer) {
	c := h.open(w, r, p)
	if c == nil {
		return
	}
	c.start()
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
	c := &conn{
		hub:       h,
		userID:    userID,
		deviceIdx: bytes.Clone(deviceIdx),
		requests:  p.Requests,
		tokens:    h.burst(),
		last:      time.Since(h.epoch),
	}
	// The request's context ends when the handler returns; the connection
	// keeps its values (request id, logger) and gets its own end.
	c.ctx, c.cancel = context.WithCancel(context.WithoutCancel(r.Context()))
	ws, err := h.ws.Upgrade(w, r, c)
	if err != nil {
		// Upgrade has already answered the request.
		h.log.Debug("realtime: upgrade refused", "user", userID, "err", err)
		c.cancel()
		h.release(userID)
		h.serving.Done()
		return nil
	}
	c.ws = ws
	h.register(c)
	h.log.Debug("realtime: connected", "user", userID, deviceAttr(deviceIdx))
	return c
}

// OnClose is wsnet's news that the connection has ended (the socket is
// closed and no goroutine of it runs): it is unregistered and its ServeWS
// count ends.
func (c *conn) OnClose(_ *wsnet.Conn, end error) {
	h := c.hub
	c.mu.Lock()
	c.done = true
	c.early = nil
	closing := c.closing
	c.mu.Unlock()
	c.cancel()
	switch {
	case errors.Is(end, wsnet.ErrWriteTimeout) && !closing:
		// A write that made no progress for the write timeout: the client
		// is not reading. (One already being closed, say as slow, is not
		// counted twice.)
		h.slowDropped.Add(1)
		h.log.Info("realtime: dropped a slow consumer", "user", c.userID, deviceAttr(c.deviceIdx), "cause", "write timeout")
	case errors.Is(end, wsnet.ErrPingTimeout):
		h.log.Info("realtime: closing a connection that stopped answering pings", "user", c.userID, deviceAttr(c.deviceIdx))
	case errors.Is(end, wsnet.ErrHandlerPanic):
		h.log.Error("realtime: client frame panicked", "user", c.userID, deviceAttr(c.deviceIdx), "err", end)
	}
	status := -1
	var ce *wsnet.CloseError
	if errors.As(end, &ce) {
		status = int(ce.Code)
	}
	// Logged before the connection stops counting, so that whoever waits
	// for Stats().Connections to fall finds the line.
	h.log.Debug("realtime: disconnected", "user", c.userID, deviceAttr(c.deviceIdx), "status", status)
	h.unregister(c)
	h.release(c.userID)
	h.serving.Done()
}

// OnMessage is one client message, from wsnet's reading goroutine. data
// lives in wsnet's pooled buffer only during the call: it is copied, since
// what handle gives it to may keep it.
func (c *conn) OnMessage(_ *wsnet.Conn, typ wsnet.MessageType, data []byte) {
	c.handle(websocket.MessageType(typ), bytes.Clone(data))
}

func (h *Hub) burst() float64 { return max(1, 2*h.opts.FramesPerSec) }

// start fetches the ready frame, queues it ahead of the frames published
// meanwhile, and lets the connection read. If the ready frame cannot be had
// the connection is closed instead.
func (c *conn) start() {
	ready, err := c.hub.handler.ReadyFrame(c.ctx, c.userID)
	if err != nil && c.ctx.Err() != nil {
		return // closed while the summary was fetched
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
		return
	}
	c.mu.Lock()
	if c.done || c.closing {
		c.mu.Unlock()
		return
	}
	// The queue is empty (nothing is sent before ready) and early is
	// bounded by SendQueue, so these fit.
	_ = c.ws.Send(ready)
	for _, f := range c.early {
		_ = c.ws.Send(f)
	}
	c.early = nil
	c.ready = true
	if c.closeCode != 0 {
		// A close that waits for the queue came while the summary was
		// fetched (say, the device signed out): the queue goes first.
		c.ws.Close(wsnet.StatusCode(c.closeCode), c.closeReason, true)
	}
	c.mu.Unlock()
	c.ws.Start()
}

// cut closes the socket at once, for a peer that does not finish the close
// handshake.
func (c *conn) cut() { c.ws.Cut() }

// enqueue queues f for the client without blocking. A connection whose
// queue is full is closed as slow, and f is dropped for it.
func (c *conn) enqueue(f []byte) {
	c.mu.Lock()
	if c.done || c.closeCode != 0 {
		c.mu.Unlock()
		return
	}
	full := false
	if !c.ready {
		// Counting the ready frame to come.
		if full = len(c.early)+1 >= c.hub.opts.SendQueue; !full {
			c.early = append(c.early, f)
		}
	} else {
		full = errors.Is(c.ws.Send(f), wsnet.ErrQueueFull)
	}
	if full {
		c.beginCloseLocked(websocket.StatusTryAgainLater, "slow consumer", closeNow)
	}
	c.mu.Unlock()
	if full {
		c.hub.slowDropped.Add(1)
		c.hub.log.Info("realtime: dropped a slow consumer", "user", c.userID, deviceAttr(c.deviceIdx), "cause", "queue full", "queued", c.hub.opts.SendQueue)
	}
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
	c.beginCloseLocked(code, reason, mode)
	c.mu.Unlock()
}

// How a connection is closed.
type closeMode int

const (
	closeAfterQueue closeMode = iota // write the queue, then the close handshake
	closeNow                         // drop the queue, close handshake at once
)

func (c *conn) beginCloseLocked(code websocket.StatusCode, reason string, mode closeMode) {
	if c.done || c.closing {
		return
	}
	if c.closeCode != 0 && mode == closeAfterQueue {
		return
	}
	c.closeCode, c.closeReason = code, reason
	// From here on enqueue drops frames for this connection, so it no
	// longer counts as a way to reach the person.
	c.hub.setLive(c, false)
	if mode == closeNow {
		c.closing = true
		c.early = nil
		c.cancel() // a Handler call still running is of no use now
		c.ws.Close(wsnet.StatusCode(code), reason, false)
		return
	}
	if c.ready {
		c.ws.Close(wsnet.StatusCode(code), reason, true)
	}
	// Otherwise start closes after the ready frame and the early ones.
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode != 0 || c.done
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
