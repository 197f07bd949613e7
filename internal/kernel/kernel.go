// Package kernel is the small core every capability package builds on: the
// shared Core (store, keys, bus, clock, Config), sealing with associated data,
// ids, the internal-error helper, event publishing and the checks every
// capability applies (caller, active account, can-message); capability
// packages and internal/service import it, adapters and handlers do not.
package kernel

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/media/process"
	"github.com/tkesj/tkesj/internal/passhash"
	"github.com/tkesj/tkesj/internal/store"
)

// Config holds the service's tunables; zero values take the defaults.
type Config struct {
	PhoneRegion      string        // default region for numbers without +; "CN"
	CodeTTL          time.Duration // one-time code lifetime; 5 min
	CodeMaxAttempts  int           // wrong tries that burn a code; 5
	CodeCooldown     time.Duration // per phone and purpose while a code is unused; 30 s
	CodesPerPhone    int           // codes per phone per hour; 10
	CodesPerIP       int           // codes per client IP per hour; 200
	MinorAge         int           // under this age a guardian must consent; 14
	HashConcurrency  int           // argon2id hashes at once; 4
	PasswordParams   *passhash.Params
	SessionTouchStep time.Duration  // how stale last_seen_at may get; 1 min
	GroupCap         int            // most members a group may have; 500
	RecallWindow     time.Duration  // how long a sender may recall a message; 2 min
	Writers          int            // group-commit workers; 1 (SQLite has one writer anyway)
	MaxBatch         int            // most writes in one group commit; 256
	CommitLinger     time.Duration  // how long a group commit waits for more writes while they come faster than one per CommitLinger (issue 17); 1 ms, negative: never
	SendsPerMinute   int            // messages one person may send per minute; 600
	MediaLimits      process.Limits // per-kind upload caps; process.DefaultLimits
	DecodeBudget     int64          // bytes all picture decodes may hold at once; process.DefaultDecodeBudget (512 MiB)
	PolicyCacheTTL   time.Duration  // how long a node trusts its view of the newest major policy; 5 s
	PushDelay        time.Duration  // how long after a message a push goes to members no device acknowledged it for; 3 s
	ExpirySweep      time.Duration  // how often expired disappearing messages are deleted (R-MSG-10); 15 s
	IndexDelay       time.Duration  // how long the search indexer gathers new messages before a pass, and a fifth of how often it looks unwoken (issue 17); 250 ms
	// Clock, when set, is the service's clock from the start (end-to-end
	// tests that need a running server's time to move); nil: the wall clock.
	Clock          func() time.Time
	PushAllowHosts []string      // push-service hosts exempt from "public https only" (tests); none
	LockAfter      int           // wrong passwords within 15 min that lock password logins; 10
	LockFor        time.Duration // how long such a lock lasts; 15 min
	Retention      Retention     // how long each category of data is kept (retention.go)
	ExportInterval time.Duration // one data export per person per this, unless the last failed (R-RGT-1); 24 h
	ExportTTL      time.Duration // how long a ready export may be downloaded; 24 h
	ExportWorkers  int           // exports built at once on this node; 2
	GroupQRTTL     time.Duration // how long a group's invitation QR code works (R-QR-1); 7 days
	LoginQRTTL     time.Duration // how long a scan-to-login code works (R-QR-2); 2 min
	WSTicketTTL    time.Duration // how long a WebSocket ticket works (wsticket.go); 30 s
	// Sharing and operations (sharing.go, ops.go, support.go).
	Region          string        // the region the deployment keeps data in (R-XBT-1); "CN"
	StatsK          int           // statistics cells below this count are suppressed (R-SHR-5); 10
	NoticeRetryBase time.Duration // first retry of an unacknowledged deletion notice, doubling (R-SHR-3); 30 s
	NoticePoll      time.Duration // how often the notice worker looks for due retries at most; 1 min
	TicketRetention time.Duration // how long a closed support ticket is kept (R-OPS-1); 365 days
	// Moments (timeline.go).
	FriendCap    int           // most friends one person may have; 10,000
	FanOutBatch  int           // timeline references one fan-out batch writes at most; 500
	FanOutPoll   time.Duration // how often an idle node looks for fan-outs other nodes left; 5 s
	FanOutPaused bool          // tests only: no fan-out worker, as if the process died after acknowledging
	// RelayAnnouncements pushes announcements stored by another process
	// (tkesj admin) to this node's sockets; set for in-process delivery only.
	RelayAnnouncements bool
}

func (c *Config) defaults() {
	if c.PhoneRegion == "" {
		c.PhoneRegion = "CN"
	}
	if c.WSTicketTTL == 0 {
		c.WSTicketTTL = 30 * time.Second
	}
	if c.CodeTTL == 0 {
		c.CodeTTL = 5 * time.Minute
	}
	if c.CodeMaxAttempts == 0 {
		c.CodeMaxAttempts = 5
	}
	if c.CodeCooldown == 0 {
		c.CodeCooldown = 30 * time.Second
	}
	if c.CodesPerPhone == 0 {
		c.CodesPerPhone = 10
	}
	if c.CodesPerIP == 0 {
		// Room for an office or a small carrier NAT, not for sending codes
		// to the numbers of strangers by the thousand (issue 14 item 11).
		c.CodesPerIP = 200
	}
	if c.MinorAge == 0 {
		c.MinorAge = 14
	}
	if c.SessionTouchStep == 0 {
		c.SessionTouchStep = time.Minute
	}
	if c.GroupCap == 0 {
		c.GroupCap = 500
	}
	if c.RecallWindow == 0 {
		c.RecallWindow = 2 * time.Minute
	}
	if c.SendsPerMinute == 0 {
		c.SendsPerMinute = 600
	}
	d := process.DefaultLimits
	for _, f := range []struct {
		dst *int64
		def int64
	}{{&c.MediaLimits.Image, d.Image}, {&c.MediaLimits.Video, d.Video}, {&c.MediaLimits.Voice, d.Voice}, {&c.MediaLimits.File, d.File}} {
		if *f.dst == 0 {
			*f.dst = f.def
		}
	}
	if c.PolicyCacheTTL == 0 {
		c.PolicyCacheTTL = 5 * time.Second
	}
	if c.ExpirySweep == 0 {
		c.ExpirySweep = 15 * time.Second
	}
	if c.PushDelay == 0 {
		c.PushDelay = 3 * time.Second
	}
	if c.CommitLinger == 0 {
		c.CommitLinger = time.Millisecond
	}
	if c.IndexDelay == 0 {
		c.IndexDelay = 250 * time.Millisecond
	}
	if c.LockAfter == 0 {
		c.LockAfter = 10
	}
	if c.LockFor == 0 {
		c.LockFor = 15 * time.Minute
	}
	c.Retention.defaults()
	if c.ExportInterval == 0 {
		c.ExportInterval = 24 * time.Hour
	}
	if c.ExportTTL == 0 {
		c.ExportTTL = 24 * time.Hour
	}
	if c.ExportWorkers == 0 {
		c.ExportWorkers = 2
	}
	if c.Region == "" {
		c.Region = "CN"
	}
	if c.StatsK == 0 {
		c.StatsK = 10
	}
	if c.NoticeRetryBase == 0 {
		c.NoticeRetryBase = 30 * time.Second
	}
	if c.NoticePoll == 0 {
		c.NoticePoll = time.Minute
	}
	if c.TicketRetention == 0 {
		c.TicketRetention = 365 * 24 * time.Hour
	}
	if c.FriendCap == 0 {
		c.FriendCap = 10_000
	}
	if c.FanOutBatch == 0 {
		c.FanOutBatch = 500
	}
	if c.FanOutPoll == 0 {
		c.FanOutPoll = 5 * time.Second
	}
}

// Retention says how long each category of data is kept (R-SEC-2, R-DEV-2).
// The README's retention table is written from these defaults.
type Retention struct {
	DeviceIdle     time.Duration // a device unused this long is deleted, with its sessions; 180 days
	LoginIP        time.Duration // a login IP older than this is cut to its /24 or /48; 30 days
	FriendRequests time.Duration // an expired friend request is deleted this long after it expired; 30 days
	Decisions      time.Duration // decisions about a person are kept this long; 3 years
	OrphanUploads  time.Duration // an upload nothing carries is deleted after this; 24 hours
}

func (r *Retention) defaults() {
	if r.DeviceIdle == 0 {
		r.DeviceIdle = 180 * 24 * time.Hour
	}
	if r.LoginIP == 0 {
		r.LoginIP = 30 * 24 * time.Hour
	}
	if r.FriendRequests == 0 {
		r.FriendRequests = 30 * 24 * time.Hour
	}
	if r.Decisions == 0 {
		r.Decisions = 3 * 365 * 24 * time.Hour
	}
	if r.OrphanUploads == 0 {
		r.OrphanUploads = 24 * time.Hour
	}
}

// Core is what every capability shares: the store, the key ring, the event
// bus, the blob store, the tunables, the logger and the clock. internal/service
// makes one and hands it to every capability, so SetClock moves them all.
type Core struct {
	DB    *store.DB
	Keys  *keyring.Keyring
	Bus   tkesj.Bus // nil: no real-time delivery (tests of pure logic)
	Blobs tkesj.BlobStore
	Cfg   Config
	Log   *slog.Logger
	// clock is read by background loops (fan-out, exports, push timers)
	// while tests move it with SetClock; nil means the wall clock in UTC.
	clock atomic.Pointer[func() time.Time]
	// Personal is the registry of personal data (personal.go): every
	// capability registers what it stores in its New.
	Personal *Registry
	// Loops runs every background loop under one lifetime (loops.go).
	Loops *Loops
	// Integrity counts stored data that failed its integrity check
	// (integrity.go).
	Integrity Integrity
	// invalidators empty the capabilities' caches (cache.go).
	invalidators invalidators
}

// NewCore returns a Core with cfg's zero values replaced by the defaults.
func NewCore(db *store.DB, keys *keyring.Keyring, bus tkesj.Bus, blobs tkesj.BlobStore, log *slog.Logger, cfg Config) *Core {
	cfg.defaults()
	c := &Core{DB: db, Keys: keys, Bus: bus, Blobs: blobs, Cfg: cfg, Log: log, Personal: &Registry{}, Loops: NewLoops()}
	if cfg.Clock != nil {
		c.SetClock(cfg.Clock)
	}
	if bus != nil {
		c.subscribeInvalidations()
	}
	return c
}

// Now is the service's clock: the wall clock in UTC unless a test set another.
func (s *Core) Now() time.Time {
	if c := s.clock.Load(); c != nil {
		return (*c)()
	}
	return time.Now().UTC()
}

// SetClock replaces the clock of every capability (tests).
func (s *Core) SetClock(now func() time.Time) { s.clock.Store(&now) }

// IDEncoding spells ids: lower-case base32 without padding.
var IDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a random id with a one-letter prefix naming its kind.
func NewID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + IDEncoding.EncodeToString(b)
}

// NewMessageID returns a message's id: "m", then 12 bytes in 20 characters
// of IDEncoding's letters, the first 6 bytes being at, the message's
// sent_at, in milliseconds since 1970 (big-endian), and the other 6
// random. The letters are in their ASCII order here
// (messageIDEncoding), so ids sort by time as strings do, and the store's
// unique index on messages.id grows at its right edge: a send dirties one
// page of it that the other sends of its group commit share, where a
// random id dirtied a page of its own anywhere in the index, one more WAL
// frame per message (issue 17).
//
// What the id tells: the moment the message was sent, to the
// millisecond, which everyone who can read the message has anyway as its
// sent_at, and nothing else (no counter, node or sender). It is not a
// secret or a capability: nothing looks a message up by its id (messages
// are read by conversation and seq, after the membership check), so
// being guessable within a millisecond gives no one anything. 48 random
// bits keep two messages of one millisecond apart (the unique index
// would refuse the second rather than mix them up).
func NewMessageID(at time.Time) string {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(at.UnixMilli())<<16)
	rand.Read(b[6:])
	return "m" + messageIDEncoding.EncodeToString(b[:])
}

// messageIDEncoding is IDEncoding's 32 characters sorted, so that the
// order of encoded strings is the order of the bytes (IDEncoding puts
// the digits, which sort first, last).
var messageIDEncoding = base32.NewEncoding("234567abcdefghijklmnopqrstuvwxyz").WithPadding(base32.NoPadding)

// Seal encrypts v as JSON with owner's data key, bound to ad.
func (s *Core) Seal(ctx context.Context, owner, ad string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ad, err)
	}
	return s.Keys.Seal(ctx, owner, b, []byte(ad))
}

// Open decrypts a sealed value into v.
// A value that fails its integrity check is an integrity failure
// (integrity.go): the error wraps ErrIntegrity. Nothing sealed at all (an
// optional column left empty) is not one.
func (s *Core) Open(ctx context.Context, owner, ad string, sealed []byte, v any) error {
	if len(sealed) == 0 {
		return fmt.Errorf("open %s: nothing sealed", ad)
	}
	b, err := s.Keys.Open(ctx, owner, sealed, []byte(ad))
	if errors.Is(err, keyring.ErrCorrupt) {
		return s.IntegrityFailure(ctx, ad, err)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", ad, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		// Authentic bytes that do not decode: written wrong, never by us.
		return s.IntegrityFailure(ctx, ad, err)
	}
	return nil
}

// Internal logs an unexpected error with an opaque reference and returns the
// error a client sees, which carries no detail.
func (s *Core) Internal(ctx context.Context, op string, err error) error {
	if _, ok := err.(*tkesj.Error); ok {
		return err
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// The caller went away or ran out of time: nothing broke here
		// (issue 14 item 11), so no ERROR line for the operator.
		s.Log.InfoContext(ctx, "request abandoned", slog.String("op", op))
		return &tkesj.Error{Kind: tkesj.EUnavailable, Code: "abandoned", Message: "the request was abandoned before it finished; try again", Err: err}
	}
	ref := NewID("e")
	s.Log.ErrorContext(ctx, "internal error", slog.String("op", op), slog.String("ref", ref), slog.String("err", err.Error()))
	e := tkesj.Internal(err)
	e.Message = "something went wrong on our side; try again (reference " + ref + ")"
	return e
}
