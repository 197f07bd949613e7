package wsnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"time"
	"unicode/utf8"
)

// Conn is one WebSocket connection. Its methods are safe for concurrent
// use and never block on the network.
//
// An idle connection has no goroutine: in poll mode a reader goroutine runs
// while the socket has bytes (and the handler works), a writer goroutine
// while frames wait and the socket takes them. In stream mode (TLS, or no
// epoll) the reader goroutine runs for the connection's life.
type Conn struct {
	srv *Server
	h   Handler
	fd  int      // poll mode: the socket, owned by the Conn; -1 in stream mode
	nc  net.Conn // stream mode
	// wrapper is what net/http handed over around the polled socket (an
	// Unwrapper), closed at the end for its own accounting.
	wrapper net.Conn

	// The reader's own state: only the goroutine reading touches it.
	in    *[]byte // bytes read and not yet parsed (a frame in flight); nil when none
	msg   []byte  // the fragments of a message in flight
	msgOp byte    // the opcode of that message; 0 when none
	halt  bool    // stop reading: the peer's close came, or the peer broke the protocol

	mu        sync.Mutex
	started   bool // reading may start (Start or Close was called)
	dead      bool // cut: no more I/O; the socket is released once no worker runs
	released  bool
	cause     error
	reading   bool // a reader goroutine runs
	readAgain bool // the socket became readable while it ran

	queue     [][]byte // data frames' payloads waiting to be written
	pong      []byte   // the payload of the pong owed
	pongDue   bool
	pingDue   bool
	out       *[]byte // the batch being written
	outOff    int
	outFrames int  // data frames in out
	outClose  bool // out ends with our close frame
	writing   bool // a writer goroutine runs
	waitOut   bool // the socket is full: writing resumes when epoll says it may
	writable  bool // epoll said writable since the last write began
	blockedAt int64

	closeState  closeState
	closeCode   StatusCode
	closeReason string
	failing     bool // the peer broke the protocol: once our close frame is out, drain until it leaves
	remote      *CloseError
	closeAt     int64 // when to give up on the peer's answer to our close

	timer     *time.Timer
	timerAt   int64
	nextPing  int64
	awaitPong bool
	missed    int
}

type closeState uint8

const (
	open            closeState = iota
	closeAfterQueue            // our close frame goes once the queue is written
	closeNext                  // our close frame goes next; the queue was dropped
	closeSent                  // our close frame is in a batch, or written
)

// errAgain is what a non-blocking read or write returns when the socket
// has nothing to give or no room.
var errAgain = errors.New("wsnet: try again")

// now is the server's clock, in nanoseconds; never 0.
func (c *Conn) now() int64 { return int64(time.Since(c.srv.epoch)) + 1 }

// Start lets the connection read: frames that came before are handled now.
// Pings start.
func (c *Conn) Start() {
	c.mu.Lock()
	c.startLocked()
	c.mu.Unlock()
}

func (c *Conn) startLocked() {
	if c.started || c.dead {
		return
	}
	c.started = true
	if iv := c.srv.opts.PingInterval; iv > 0 {
		c.nextPing = c.now() + int64(iv)
		c.armLocked(c.nextPing)
	}
	c.reading = true
	if c.fd >= 0 {
		go c.readPass()
	} else {
		go c.streamRead()
	}
}

// Send queues a data frame (text, FIN) carrying p, which must not change
// afterwards (one payload may go to many connections). It returns
// ErrQueueFull when Options.SendQueue frames wait already, and ErrClosing
// once a close has begun.
func (c *Conn) Send(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead || c.closeState != open {
		return ErrClosing
	}
	if len(c.queue)+c.outFrames >= c.srv.opts.SendQueue {
		return ErrQueueFull
	}
	c.queue = append(c.queue, p)
	c.kickWriterLocked()
	return nil
}

// Pending is how many data frames are queued or being written.
func (c *Conn) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue) + c.outFrames
}

// Close starts the close handshake with code and reason. With flush, the
// frames already queued are written first; without, they are dropped. A
// close without flush overtakes one with flush that has not gone yet;
// otherwise the first close wins. The socket is closed once the peer
// answers, or after Options.CloseTimeout.
func (c *Conn) Close(code StatusCode, reason string, flush bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, reason, flush)
}

func (c *Conn) closeLocked(code StatusCode, reason string, flush bool) {
	if c.dead || c.closeState >= closeNext || c.closeState == closeAfterQueue && flush {
		return
	}
	c.closeCode, c.closeReason = code, reason
	if flush {
		c.closeState = closeAfterQueue
	} else {
		c.closeState = closeNext
		c.queue = nil
	}
	c.startLocked() // the peer's answer must be read
	c.kickWriterLocked()
}

// Cut closes the socket at once, without a close frame.
func (c *Conn) Cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cutLocked(ErrCut)
}

func (c *Conn) cutLocked(cause error) {
	if c.dead {
		return
	}
	c.dead = true
	if c.cause == nil {
		c.cause = cause
	}
	c.queue = nil
	if c.timer != nil {
		c.timer.Stop()
	}
	// Shut the socket down now (the peer sees it at once, and a worker
	// blocked on it returns); the descriptor itself is closed once no
	// worker uses it, so that its number cannot be reused under one.
	if c.fd >= 0 {
		shutdownFd(c.fd)
	} else {
		_ = c.nc.Close()
	}
	c.maybeReleaseLocked()
}

func (c *Conn) maybeReleaseLocked() {
	if !c.dead || c.reading || c.writing || c.released {
		return
	}
	c.released = true
	go c.release()
}

// release frees the socket and the buffers and reports the end. No worker
// runs any more (reading and writing are false and dead is set).
func (c *Conn) release() {
	if c.fd >= 0 {
		c.srv.poller.del(c)
		closeFd(c.fd)
		if c.wrapper != nil {
			_ = c.wrapper.Close() // its socket is closed already; this is for its bookkeeping
		}
	} else {
		_ = c.nc.Close()
		c.srv.forget(c)
	}
	putBuf(c.in)
	c.in, c.msg = nil, nil
	c.mu.Lock()
	putBuf(c.out)
	c.out = nil
	cause := c.cause
	c.mu.Unlock()
	defer c.srv.live.Done()
	c.h.OnClose(c, cause)
}

// kickWriterLocked starts a writer if there is something to write and
// none runs or waits.
func (c *Conn) kickWriterLocked() {
	if c.dead || c.writing || c.waitOut {
		return
	}
	if c.out == nil && len(c.queue) == 0 && !c.pongDue && !c.pingDue && !c.closeDueLocked() {
		return
	}
	c.writing = true
	go c.flush()
}

func (c *Conn) closeDueLocked() bool {
	return c.closeState == closeNext || c.closeState == closeAfterQueue && len(c.queue) == 0
}

// buildLocked fills c.out with the next batch: the pong owed, a ping, then
// data frames up to batchSize, and our close frame when its turn has come.
// It reports false when there is nothing to write.
func (c *Conn) buildLocked() bool {
	if c.closeState == closeSent {
		return false
	}
	size := 0
	if c.pongDue {
		size += frameSize(len(c.pong))
	}
	if c.pingDue {
		size += 2
	}
	n := 0
	if c.closeState != closeNext {
		for _, p := range c.queue {
			fs := frameSize(len(p))
			if n > 0 && size+fs > batchSize {
				break
			}
			size += fs
			n++
		}
	}
	var cp []byte
	closing := c.closeState == closeNext || c.closeState == closeAfterQueue && n == len(c.queue)
	if closing {
		cp = closePayload(c.closeCode, c.closeReason)
		size += frameSize(len(cp))
	}
	if size == 0 {
		return false
	}
	b := getBuf(size)
	buf := *b
	if c.pongDue {
		buf = appendFrame(buf, opPong, c.pong)
		c.pongDue, c.pong = false, nil
	}
	if c.pingDue {
		buf = appendFrame(buf, opPing, nil)
		c.pingDue = false
	}
	for i, p := range c.queue[:n] {
		buf = appendFrame(buf, opText, p)
		c.queue[i] = nil
	}
	if n == len(c.queue) {
		c.queue = nil // an idle connection keeps no queue
	} else {
		c.queue = c.queue[n:]
	}
	if closing {
		buf = appendFrame(buf, opClose, cp)
		c.closeState = closeSent
		c.outClose = true
	}
	*b = buf
	c.out, c.outOff, c.outFrames = b, 0, n
	return true
}

// flush writes batches until nothing is left, the socket is full (poll
// mode: epoll resumes it) or the connection dies.
func (c *Conn) flush() {
	c.mu.Lock()
	for !c.dead {
		if c.out == nil && !c.buildLocked() {
			break
		}
		p := (*c.out)[c.outOff:]
		c.writable = false
		c.mu.Unlock()
		n, err := c.write(p)
		c.mu.Lock()
		if c.dead {
			break
		}
		if n > 0 {
			c.outOff += n
			c.blockedAt = 0
		}
		if c.outOff == len(*c.out) {
			c.batchDoneLocked()
		}
		switch {
		case err == nil:
		case err == errAgain:
			if c.writable {
				continue // epoll said writable after we began: try again
			}
			c.waitOut = true
			if c.blockedAt == 0 {
				c.blockedAt = c.now()
				c.armLocked(c.blockedAt + int64(c.srv.opts.WriteTimeout))
			}
			c.writing = false
			c.mu.Unlock()
			return
		case errors.Is(err, os.ErrDeadlineExceeded):
			c.cutLocked(ErrWriteTimeout)
		default:
			c.cutLocked(fmt.Errorf("wsnet: write: %w", err))
		}
	}
	c.writing = false
	c.maybeReleaseLocked()
	c.mu.Unlock()
}

func (c *Conn) batchDoneLocked() {
	c.srv.framesSent.Add(uint64(c.outFrames))
	putBuf(c.out)
	c.out, c.outOff, c.outFrames = nil, 0, 0
	if !c.outClose {
		return
	}
	c.outClose = false
	switch {
	case c.remote != nil && c.remote.Remote:
		// We answered the peer's close: done.
		c.cutLocked(c.remote)
	case c.remote != nil:
		// The peer answered our close while it was being written.
		c.cutLocked(&CloseError{Code: c.closeCode, Reason: c.closeReason})
	case c.failing:
		// Closing the socket with the peer's bytes unread would reset it,
		// and the peer could lose our close frame: say we are done (FIN),
		// let the reader drain until the peer closes too, within
		// CloseTimeout.
		c.shutdownWrite()
		c.closeAt = c.now() + int64(c.srv.opts.CloseTimeout)
		c.armLocked(c.closeAt)
	default:
		c.closeAt = c.now() + int64(c.srv.opts.CloseTimeout)
		c.armLocked(c.closeAt)
	}
}

// onWritable is epoll's news that the socket takes bytes again.
func (c *Conn) onWritable() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writable = true
	if c.waitOut && !c.dead {
		c.waitOut = false
		c.writing = true
		go c.flush()
	}
}

// onReadable is epoll's news that the socket has bytes (or an end).
func (c *Conn) onReadable() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead || !c.started {
		return // Start reads what came before
	}
	if c.reading {
		c.readAgain = true
		return
	}
	c.reading = true
	go c.readPass()
}

// readPass reads (poll mode) until the socket has nothing more.
func (c *Conn) readPass() {
	for {
		c.mu.Lock()
		c.readAgain = false
		dead := c.dead
		c.mu.Unlock()
		var err error
		if !dead {
			err = c.readSome()
		}
		c.mu.Lock()
		if err != nil {
			c.cutLocked(c.readEnd(err))
		}
		if c.dead || !c.readAgain {
			c.reading = false
			c.maybeReleaseLocked()
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
	}
}

// streamRead reads (stream mode) until the connection ends.
func (c *Conn) streamRead() {
	err := c.readSome()
	c.mu.Lock()
	c.cutLocked(c.readEnd(err))
	c.reading = false
	c.maybeReleaseLocked()
	c.mu.Unlock()
}

// readEnd is the cause to report for a read that ended with err: after a
// close frame came, the peer closing the socket is the expected end.
func (c *Conn) readEnd(err error) error {
	if c.remote != nil {
		return c.remote
	}
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("wsnet: read: %w", err)
}

// readSome reads and handles frames until the socket has no more bytes
// (poll mode: nil) or fails.
func (c *Conn) readSome() error {
	defer func() {
		if c.in != nil && len(*c.in) == 0 {
			putBuf(c.in)
			c.in = nil
		}
	}()
	if c.in != nil && len(*c.in) > 0 {
		c.parse() // bytes that came with the handshake
	}
	for {
		if c.halt {
			// Nothing the peer sends now matters; read only to see the
			// end, into a scratch buffer.
			var scratch [512]byte
			n, err := c.read(scratch[:])
			if err == nil && n == 0 {
				err = io.EOF
			}
			if err == errAgain {
				return nil
			}
			if err != nil {
				return err
			}
			continue
		}
		if c.in == nil {
			c.in = getBuf(readSize)
		}
		b := *c.in
		n, err := c.read(b[len(b):cap(b)])
		if n > 0 {
			*c.in = b[:len(b)+n]
			c.parse()
		}
		switch {
		case err == errAgain:
			return nil
		case err != nil:
			return err
		case n == 0:
			return io.EOF
		}
	}
}

// parse handles the complete frames in c.in and keeps the rest, in a
// buffer big enough for the frame in flight.
func (c *Conn) parse() {
	b := *c.in
	off := 0
	for !c.halt {
		h, ok := parseHeader(b[off:])
		if !ok {
			break
		}
		if !c.checkHeader(h) {
			break
		}
		total := h.size + int(h.length)
		if len(b)-off < total {
			if total > cap(b) {
				nb := getBuf(total)
				*nb = append(*nb, b[off:]...)
				putBuf(c.in)
				c.in = nb
				return
			}
			break
		}
		payload := b[off+h.size : off+total]
		unmask(payload, h.mask, 0)
		off += total
		c.frame(h, payload)
	}
	if c.halt {
		off = len(b)
	}
	n := copy(b, b[off:])
	*c.in = b[:n]
}

// checkHeader applies the rules that need only the header; a frame that
// breaks one fails the connection.
func (c *Conn) checkHeader(h header) bool {
	switch {
	case h.rsv != 0:
		return c.fail(StatusProtocolError, "reserved bits set")
	case !h.masked:
		return c.fail(StatusProtocolError, "unmasked client frame")
	}
	switch h.op {
	case opClose, opPing, opPong:
		if !h.fin || h.length > maxControlPayload {
			return c.fail(StatusProtocolError, "control frame fragmented or too long")
		}
		return true
	case opText, opBinary:
		if c.msgOp != 0 {
			return c.fail(StatusProtocolError, "new message inside a fragmented one")
		}
	case opContinuation:
		if c.msgOp == 0 {
			return c.fail(StatusProtocolError, "continuation without a message")
		}
	default:
		return c.fail(StatusProtocolError, "unknown opcode")
	}
	if h.length > uint64(c.srv.opts.ReadLimit)-uint64(len(c.msg)) {
		return c.fail(StatusMessageTooBig, fmt.Sprintf("read limited at %d bytes", c.srv.opts.ReadLimit+1))
	}
	return true
}

// fail closes the connection for a peer that broke the protocol: our close
// frame goes at once, then the socket closes. It returns false.
func (c *Conn) fail(code StatusCode, reason string) bool {
	c.halt = true
	c.msg, c.msgOp = nil, 0
	c.mu.Lock()
	c.failing = true
	c.closeLocked(code, reason, false)
	if c.cause == nil {
		c.cause = &CloseError{Code: c.closeCode, Reason: c.closeReason}
	}
	if c.closeState == closeSent && c.out == nil {
		// Our close went already: nothing to wait for.
		c.cutLocked(&CloseError{Code: c.closeCode, Reason: c.closeReason})
	}
	c.mu.Unlock()
	return false
}

// frame handles one complete frame whose payload is unmasked.
func (c *Conn) frame(h header, payload []byte) {
	switch h.op {
	case opPing:
		c.mu.Lock()
		if c.closeState == open || c.closeState == closeAfterQueue {
			c.pong = append(c.pong[:0], payload...)
			c.pongDue = true
			c.kickWriterLocked()
		}
		c.mu.Unlock()
	case opPong:
		c.mu.Lock()
		c.awaitPong, c.missed = false, 0
		c.mu.Unlock()
	case opClose:
		code, reason, ok := parseClose(payload)
		if !ok {
			c.fail(StatusProtocolError, "invalid close frame")
			return
		}
		c.halt = true
		c.msg, c.msgOp = nil, 0
		c.mu.Lock()
		remoteFirst := c.closeState == open || c.closeState == closeAfterQueue
		c.remote = &CloseError{Code: code, Reason: reason, Remote: remoteFirst}
		if remoteFirst {
			// Answer with the same code (none for a close without one),
			// dropping what was queued.
			c.closeCode, c.closeReason = code, ""
			c.closeState = closeNext
			c.queue = nil
			c.kickWriterLocked()
		} else if c.closeState == closeSent && c.out == nil {
			// Our close is out and this is the answer.
			c.cutLocked(&CloseError{Code: c.closeCode, Reason: c.closeReason})
		}
		c.mu.Unlock()
	case opText, opBinary, opContinuation:
		if h.op != opContinuation {
			if h.fin {
				c.deliver(h.op, payload)
				return
			}
			c.msgOp = h.op
		}
		c.msg = append(c.msg, payload...)
		if h.fin {
			msg, op := c.msg, c.msgOp
			c.msg, c.msgOp = nil, 0
			c.deliver(op, msg)
		}
	}
}

// deliver hands a complete message to the handler, unless the connection
// is closing.
func (c *Conn) deliver(op byte, data []byte) {
	if op == opText && !utf8.Valid(data) {
		c.fail(StatusInvalidFramePayloadData, "invalid UTF-8")
		return
	}
	c.mu.Lock()
	closing := c.dead || c.closeState != open
	c.mu.Unlock()
	if closing {
		return
	}
	defer func() {
		if p := recover(); p != nil {
			c.halt = true
			c.mu.Lock()
			if c.cause == nil && !c.dead {
				c.failing = true
				c.closeLocked(StatusInternalError, "internal error", false)
				// Reported as the cause, so the caller can log it.
				c.cause = fmt.Errorf("%w: %v\n%s", ErrHandlerPanic, p, debug.Stack())
			}
			c.mu.Unlock()
		}
	}()
	c.h.OnMessage(c, MessageType(op), data)
}

// onTimer runs on the connection's timer: write and close deadlines, and
// pings.
func (c *Conn) onTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		return
	}
	now := c.now()
	c.timerAt = 0
	if c.waitOut && c.blockedAt > 0 && now-c.blockedAt >= int64(c.srv.opts.WriteTimeout) {
		c.cutLocked(ErrWriteTimeout)
		return
	}
	if c.closeAt > 0 && now >= c.closeAt {
		c.cutLocked(&CloseError{Code: c.closeCode, Reason: c.closeReason})
		return
	}
	iv := int64(c.srv.opts.PingInterval)
	pinging := iv > 0 && c.started && c.closeState == open
	if pinging && now >= c.nextPing {
		if c.awaitPong {
			c.missed++
			if c.missed >= c.srv.opts.MaxMissedPongs {
				c.cutLocked(ErrPingTimeout)
				return
			}
		}
		c.awaitPong = true
		c.pingDue = true
		c.nextPing = now + iv
		c.kickWriterLocked()
	}
	next := int64(0)
	earliest := func(t int64) {
		if t > 0 && (next == 0 || t < next) {
			next = t
		}
	}
	if pinging {
		earliest(c.nextPing)
	}
	if c.waitOut && c.blockedAt > 0 {
		earliest(c.blockedAt + int64(c.srv.opts.WriteTimeout))
	}
	earliest(c.closeAt)
	if next > 0 {
		c.armLocked(next)
	}
}

// armLocked makes the timer fire by at (server clock).
func (c *Conn) armLocked(at int64) {
	if c.dead || c.timerAt != 0 && c.timerAt <= at {
		return
	}
	d := time.Duration(at - c.now())
	c.timerAt = at
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.onTimer)
		return
	}
	c.timer.Reset(d)
}

// shutdownWrite sends FIN: nothing more will be written.
func (c *Conn) shutdownWrite() {
	if c.fd >= 0 {
		shutdownWriteFd(c.fd)
		return
	}
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

func (c *Conn) read(p []byte) (int, error) {
	if c.fd >= 0 {
		return readFd(c.fd, p)
	}
	return c.nc.Read(p)
}

func (c *Conn) write(p []byte) (int, error) {
	if c.fd >= 0 {
		return writeFd(c.fd, p)
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout)); err != nil {
		return 0, err
	}
	return c.nc.Write(p)
}
