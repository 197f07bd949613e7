// Package natsbus is the event bus between the nodes of a deployment,
// carried by NATS JetStream. It implements tkesj.Bus; only the wiring in
// internal/app (and tests) should import it. Other packages depend on
// tkesj.Bus, never on this package.
//
// The bus carries live notifications only. Events live in the stream for
// a minute so that a node which lags or reconnects briefly can catch up;
// keeping messages is the database's job, not the bus's. A client that
// missed events resynchronises from the database.
package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tkesj/tkesj"
)

// Defaults for Open's stream and subject when they are empty.
const (
	DefaultStream  = "TKESJ_EVENTS"
	DefaultSubject = "tkesj.events"
)

const (
	// maxAge is how long the stream keeps an event: long enough for a node
	// to ride out a reconnect, short enough that the bus never becomes a
	// second message store.
	maxAge = time.Minute
	// maxBytes bounds the stream (rule: every buffer has a bound). At 1 KiB
	// frames (about 1.5 KiB as JSON) it holds a minute of over 1000 events/s;
	// past it the oldest events are discarded.
	maxBytes = 128 << 20
	// pullBatch bounds how many events each subscription buffers in this
	// process ahead of its handler.
	pullBatch = 500
	// reconnectWait is the pause between reconnect attempts (nats.go adds
	// jitter); reconnects never give up.
	reconnectWait = time.Second
	// requestTimeout bounds JetStream API calls made without a caller's
	// context (Subscribe) and the drain in Close.
	requestTimeout = 5 * time.Second
)

// Option configures Open.
type Option func(*options)

type options struct {
	log  *slog.Logger
	name string
}

// WithLogger makes the bus log connection changes (disconnects, reconnects,
// asynchronous errors) to log. Nothing logged contains an event or a
// credential. Without it the bus logs nothing.
func WithLogger(log *slog.Logger) Option { return func(o *options) { o.log = log } }

// WithName names the NATS connection, as shown by the server's monitoring
// (e.g. the node's host name). The default is "tkesj".
func WithName(name string) Option { return func(o *options) { o.name = name } }

// Bus is a tkesj.Bus over NATS JetStream. It is safe for concurrent use.
type Bus struct {
	nc         *nats.Conn
	js         jetstream.JetStream
	stream     jetstream.Stream
	streamName string
	subject    string
	log        *slog.Logger
	closedC    chan struct{} // closed by nats.go once the connection is closed

	published atomic.Uint64
	delivered atomic.Uint64
	missed    atomic.Uint64

	closed atomic.Bool
	mu     sync.Mutex // guards subs
	subs   map[*subscription]struct{}
}

var _ tkesj.Bus = (*Bus)(nil)

// Open connects to the NATS server at url (a comma-separated list is
// allowed) and creates or updates the stream that carries events on
// subject. Empty stream and subject mean DefaultStream and DefaultSubject.
// Every node of a deployment must open the same stream and subject.
//
// The stream is stored in files, not memory, although it keeps events
// only a minute: a memory stream vanishes when a standalone NATS server
// restarts, after which every Publish fails until some node recreates the
// stream, and a recreated stream restarts its sequence at 1, which strands
// the ordered consumers of running nodes (they wait for the sequence after
// the last one they saw). A file stream survives the restart with its
// sequence, so nodes resume where they were. The cost is small: the server
// appends to a file and syncs it in the background, not on every Publish.
func Open(ctx context.Context, url, stream, subject string, opts ...Option) (*Bus, error) {
	o := options{log: slog.New(slog.DiscardHandler), name: "tkesj"}
	for _, opt := range opts {
		opt(&o)
	}
	if stream == "" {
		stream = DefaultStream
	}
	if subject == "" {
		subject = DefaultSubject
	}
	b := &Bus{streamName: stream, subject: subject, log: o.log, closedC: make(chan struct{}), subs: make(map[*subscription]struct{})}
	// The handlers log server addresses and error texts, never the URL
	// (it may hold credentials) and never a message.
	nc, err := nats.Connect(url,
		nats.Name(o.name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.DrainTimeout(requestTimeout),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("event bus disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.log.Info("event bus reconnected", "server", nc.ConnectedAddr())
		}),
		nats.ErrorHandler(func(nc *nats.Conn, _ *nats.Subscription, err error) {
			b.log.Warn("event bus error", "error", err)
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(b.closedC) }),
	)
	if err != nil {
		return nil, fmt.Errorf("open event bus: %w", unavailable(err))
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("open event bus: %w", unavailable(err))
	}
	cfg := jetstream.StreamConfig{
		Name:        stream,
		Description: "tkesj live events; the database keeps messages",
		Subjects:    []string{subject},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      maxAge,
		MaxBytes:    maxBytes,
		Storage:     jetstream.FileStorage,
		Replicas:    1,
	}
	b.stream, err = b.js.CreateOrUpdateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Another node created it between our update and create.
		b.stream, err = b.js.CreateOrUpdateStream(ctx, cfg)
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("open event bus: %w", unavailable(err))
	}
	return b, nil
}

func unavailable(err error) error {
	return &tkesj.Error{Kind: tkesj.EUnavailable, Code: "bus_unavailable", Message: "the event bus is unavailable; try again", Err: err}
}

var errClosed = errors.New("natsbus: bus closed")

// Publish sends e to every subscriber on every node and returns once the
// JetStream server has stored it (the ack), or ctx is done; without a
// deadline on ctx it waits up to 5 s. Errors are *tkesj.Error of kind
// EUnavailable. An error does not prove the event was not delivered: an
// event sent while the connection was down is buffered by nats.go and may
// reach the server after Publish gave up.
func (b *Bus) Publish(ctx context.Context, e tkesj.Event) error {
	if b.closed.Load() {
		return fmt.Errorf("publish event: %w", unavailable(errClosed))
	}
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("publish event: %w", tkesj.Internal(err))
	}
	if _, err := b.js.Publish(ctx, b.subject, data, jetstream.WithExpectStream(b.streamName)); err != nil {
		return fmt.Errorf("publish event: %w", unavailable(err))
	}
	b.published.Add(1)
	return nil
}

type subscription struct {
	it      jetstream.MessagesContext
	stopped atomic.Bool
	once    sync.Once
}

func (s *subscription) stop() {
	s.once.Do(func() {
		s.stopped.Store(true)
		s.it.Stop()
	})
}

// Subscribe creates an ephemeral ordered consumer that delivers the events
// published after Subscribe returns, from every node, and one goroutine
// that calls fn for each in stream order. The consumer resumes after the
// last delivered event when the connection comes back, so a node that was
// disconnected for less than a minute misses nothing.
//
// A slow fn delays only this subscription: up to 500 events wait in this
// process, the rest in the stream, where those older than a minute expire
// and are counted in Stats().Missed.
//
// unsubscribe ends the subscription: no call of fn starts after it
// returns. It does not wait for a call already running, so fn may call it.
func (b *Bus) Subscribe(fn func(tkesj.Event)) (unsubscribe func(), err error) {
	if fn == nil {
		return nil, fmt.Errorf("subscribe: %w", tkesj.Errorf(tkesj.EInvalid, "nil_handler", "the event handler is missing"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	// Start after the stream's last event rather than with
	// DeliverNewPolicy: the ordered consumer reapplies its initial policy
	// when it is recreated before delivering anything (after a reconnect),
	// and DeliverNewPolicy would then skip the events published meanwhile.
	info, err := b.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", unavailable(err))
	}
	cons, err := b.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   info.State.LastSeq + 1,
		// A crashed node's consumer is removed by the server after this.
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", unavailable(err))
	}
	// Messages creates the consumer on the server, so events published
	// after Subscribe returns are in its range.
	it, err := cons.Messages(jetstream.PullMaxMessages(pullBatch))
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", unavailable(err))
	}
	s := &subscription{it: it}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		s.stop()
		return nil, fmt.Errorf("subscribe: %w", unavailable(errClosed))
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	go b.deliver(s, fn, info.State.LastSeq)
	return func() {
		b.mu.Lock()
		delete(b.subs, s)
		b.mu.Unlock()
		s.stop()
	}, nil
}

func (b *Bus) deliver(s *subscription, fn func(tkesj.Event), lastSeq uint64) {
	for {
		msg, err := s.it.Next()
		if err != nil {
			if s.stopped.Load() {
				return
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			// The ordered consumer recreates itself on most errors; what
			// reaches here is transient. Pause so it cannot spin.
			b.log.Warn("event bus subscription error", "error", err)
			time.Sleep(reconnectWait)
			continue
		}
		if meta, err := msg.Metadata(); err == nil {
			// The stream holds only our subject, so a gap in its
			// sequence is events that expired (or were discarded over
			// maxBytes) before we read them.
			if seq := meta.Sequence.Stream; seq > lastSeq+1 {
				b.missed.Add(seq - lastSeq - 1)
			}
			lastSeq = max(lastSeq, meta.Sequence.Stream)
		}
		var e tkesj.Event
		if err := json.Unmarshal(msg.Data(), &e); err != nil {
			// Not ours (another writer on the subject). JSON errors
			// quote the input, so log only the size.
			b.log.Warn("event bus: undecodable event dropped", "bytes", len(msg.Data()))
			continue
		}
		if s.stopped.Load() {
			return
		}
		b.delivered.Add(1)
		fn(e)
	}
}

// Close ends every subscription (no call of fn starts after it returns,
// though one running may finish), makes later calls of Publish and
// Subscribe fail, and drains the connection: what was published is flushed
// to the server before the connection closes, waiting at most 5 s.
// Closing twice is not an error.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed.Swap(true) {
		b.mu.Unlock()
		return nil
	}
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	for s := range subs {
		s.stop()
	}
	if err := b.nc.Drain(); err != nil {
		b.nc.Close()
		return fmt.Errorf("close event bus: %w", err)
	}
	select {
	case <-b.closedC:
	case <-time.After(requestTimeout + time.Second):
		b.nc.Close()
	}
	return nil
}

// Stats counts this Bus's traffic since Open.
type Stats struct {
	Published uint64 // events this node published and the server acked
	Delivered uint64 // events passed to subscribers, summed over subscriptions
	Missed    uint64 // events that expired or were discarded in the stream before a subscriber read them
}

// Stats returns the counts so far; it is cheap enough for a metrics scrape.
func (b *Bus) Stats() Stats {
	return Stats{Published: b.published.Load(), Delivered: b.delivered.Load(), Missed: b.missed.Load()}
}
