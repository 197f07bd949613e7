// Package service is tkesj's backend-neutral logic: it validates input, applies
// the privacy rules, seals personal data with the owner's key before it reaches
// the store and opens it on the way out. Handlers call only this package.
package service

import (
	"context"
	"crypto/rand"
	"encoding/base32"
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
	"github.com/tkesj/tkesj/internal/push"
	"github.com/tkesj/tkesj/internal/ratelimit"
	"github.com/tkesj/tkesj/internal/store"
)

// Config holds the service's tunables; zero values take the defaults.
type Config struct {
	PhoneRegion      string        // default region for numbers without +; "CN"
	CodeTTL          time.Duration // one-time code lifetime; 5 min
	CodeMaxAttempts  int           // wrong tries that burn a code; 5
	CodeCooldown     time.Duration // per phone and purpose while a code is unused; 30 s
	CodesPerPhone    int           // codes per phone per hour; 10
	CodesPerIP       int           // codes per client IP per hour; 2000
	MinorAge         int           // under this age a guardian must consent; 14
	HashConcurrency  int           // argon2id hashes at once; 4
	PasswordParams   *passhash.Params
	SessionTouchStep time.Duration  // how stale last_seen_at may get; 1 min
	GroupCap         int            // most members a group may have; 500
	RecallWindow     time.Duration  // how long a sender may recall a message; 2 min
	Writers          int            // group-commit workers; 1 (SQLite has one writer anyway)
	MaxBatch         int            // most writes in one group commit; 256
	SendsPerMinute   int            // messages one person may send per minute; 600
	MediaLimits      process.Limits // per-kind upload caps; process.DefaultLimits
	Reencodes        int            // picture re-encodes at once (each may hold ~200 MB); 2
	PolicyCacheTTL   time.Duration  // how long a node trusts its view of the newest major policy; 5 s
	PushDelay        time.Duration  // how long after a message a push goes to members no device acknowledged it for; 3 s
	PushAllowHosts   []string       // push-service hosts exempt from "public https only" (tests); none
	LockAfter        int            // wrong passwords within 15 min that lock password logins; 10
	LockFor          time.Duration  // how long such a lock lasts; 15 min
	Retention        Retention      // how long each category of data is kept (retention.go)
	ExportInterval   time.Duration  // one data export per person per this, unless the last failed (R-RGT-1); 24 h
	ExportTTL        time.Duration  // how long a ready export may be downloaded; 24 h
	ExportWorkers    int            // exports built at once on this node; 2
	GroupQRTTL       time.Duration  // how long a group's invitation QR code works (R-QR-1); 7 days
	LoginQRTTL       time.Duration  // how long a scan-to-login code works (R-QR-2); 2 min
	WSTicketTTL      time.Duration  // how long a WebSocket ticket works (wsticket.go); 30 s
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
		c.CodesPerIP = 2000 // a carrier NAT or an office shares one address
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
	if c.Reencodes == 0 {
		c.Reencodes = 2
	}
	if c.PolicyCacheTTL == 0 {
		c.PolicyCacheTTL = 5 * time.Second
	}
	if c.PushDelay == 0 {
		c.PushDelay = 3 * time.Second
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

// Deps are the service's collaborators.
type Deps struct {
	DB    *store.DB
	Keys  *keyring.Keyring
	Codes tkesj.CodeSender
	Bus   tkesj.Bus // nil: no real-time delivery (tests of pure logic)
	Blobs tkesj.BlobStore
	Log   *slog.Logger
	// KeyIDs lists every data key id (not the index key); the cessation of
	// the service destroys them all (ops.go). Nil: only the people's own keys.
	KeyIDs func(ctx context.Context) ([]string, error)
}

// Service is the whole of tkesj's logic. It is safe for concurrent use.
type Service struct {
	db     *store.DB
	keys   *keyring.Keyring
	codes  tkesj.CodeSender
	bus    tkesj.Bus
	blobs  tkesj.BlobStore
	writer *writer
	hasher *passhash.Hasher
	cfg    Config
	log    *slog.Logger
	clock  atomic.Pointer[func() time.Time] // read by background loops (fan-out, exports) while tests move it

	codesPerPhone  *ratelimit.Limiter
	codesPerIP     *ratelimit.Limiter
	searches       *ratelimit.Limiter
	friendRequests *ratelimit.Limiter
	sends          *ratelimit.Limiter
	typing         *ratelimit.Limiter
	uploads        *ratelimit.Limiter
	reencodes      chan struct{} // bounds concurrent picture re-encodes
	purgeNow       chan struct{} // wakes the purger after a destruction
	exports        *exportJobs   // data exports building on this node (export.go)
	major          majorCache
	pusher         push.Provider
	pushSlots      chan struct{} // bounds pushes in flight
	pushesSent     atomic.Uint64
	onPermission   func(ctx context.Context, userID, name string, granted bool) // OnPermissionChange
	fails          *failures                                                    // failed logins per account and per address (risk.go)
	retention      RetentionStats
	decisionNotes  *ratelimit.Limiter // one rate-limit decision per person and rule per 10 min
	qr             qrLimits           // QR scans and login codes (qr.go)
	ops            *opsState          // sharing, notices, cessation (ops.go)
	keyIDs         func(ctx context.Context) ([]string, error)
	fanout         *fanOutWorker  // Moments timelines (timeline.go)
	wsTickets      wsTicketLedger // WebSocket tickets redeemed on this node (wsticket.go)
	probeID        string         // this process's name for its readiness write probes
}

// New returns a Service. It publishes the first policy version if the store has none.
func New(ctx context.Context, d Deps, cfg Config) (*Service, error) {
	cfg.defaults()
	db, log := d.DB, d.Log
	params := passhash.Default
	if cfg.PasswordParams != nil {
		params = *cfg.PasswordParams
	}
	s := &Service{
		db: db, keys: d.Keys, codes: d.Codes, bus: d.Bus, blobs: d.Blobs, cfg: cfg, log: log,
		writer:         newWriter(db, cfg.Writers, cfg.MaxBatch),
		searches:       ratelimit.New(30, time.Minute, 0),
		friendRequests: ratelimit.New(300, time.Hour, 0),
		sends:          ratelimit.New(cfg.SendsPerMinute, time.Minute, 0),
		typing:         ratelimit.New(5, 5*time.Second, 0),
		uploads:        ratelimit.New(120, time.Hour, 0),
		reencodes:      make(chan struct{}, cfg.Reencodes),
		purgeNow:       make(chan struct{}, 1),
		pushSlots:      make(chan struct{}, 64),
		fails:          newFailures(),
		decisionNotes:  ratelimit.New(1, 10*time.Minute, 0),
		hasher:         passhash.New(params, cfg.HashConcurrency),
		codesPerPhone:  ratelimit.New(cfg.CodesPerPhone, time.Hour, 0),
		codesPerIP:     ratelimit.New(cfg.CodesPerIP, time.Hour, 0),
		ops:            newOpsState(),
		keyIDs:         d.KeyIDs,
		probeID:        newID("node"),
	}
	if _, err := db.Read().CurrentPolicy(ctx); tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		err = db.Update(ctx, func(q *store.Queries) error {
			return q.PublishPolicy(ctx, tkesj.Policy{Version: tkesj.FirstPolicyVersion, Major: true, Text: tkesj.FirstPolicyText, PublishedAt: s.now()})
		})
		if err != nil && tkesj.ErrorKindOf(err) != tkesj.EConflict {
			return nil, fmt.Errorf("publish first policy: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	s.exports = s.startExports(ctx)
	s.startFanOut()
	return s, nil
}

// Close stops the Moments fan-out worker between two batches (what is left
// resumes on the next start), the exports under way (they are marked failed) and the
// group-commit writer after the batches under way.
func (s *Service) Close() {
	s.stopFanOut()
	s.stopExports()
	s.writer.close()
}

// WriterStats reports group commits and the writes they held.
func (s *Service) WriterStats() (batches, writes uint64) { return s.writer.stats() }

// SetClock replaces the clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.clock.Store(&now) }

// now is the service's clock: the wall clock in UTC unless a test set another.
func (s *Service) now() time.Time {
	if c := s.clock.Load(); c != nil {
		return (*c)()
	}
	return time.Now().UTC()
}

// Ping reports whether the store answers.
func (s *Service) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a random id with a one-letter prefix naming its kind.
func newID(prefix string) string {
	b := make([]byte, 10)
	rand.Read(b)
	return prefix + idEncoding.EncodeToString(b)
}

// seal encrypts v as JSON with owner's data key, bound to ad.
func (s *Service) seal(ctx context.Context, owner, ad string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ad, err)
	}
	return s.keys.Seal(ctx, owner, b, []byte(ad))
}

// open decrypts a sealed value into v.
func (s *Service) open(ctx context.Context, owner, ad string, sealed []byte, v any) error {
	b, err := s.keys.Open(ctx, owner, sealed, []byte(ad))
	if err != nil {
		return fmt.Errorf("open %s: %w", ad, err)
	}
	return json.Unmarshal(b, v)
}

// internal logs an unexpected error with an opaque reference and returns the
// error a client sees, which carries no detail.
func (s *Service) internal(ctx context.Context, op string, err error) error {
	if _, ok := err.(*tkesj.Error); ok {
		return err
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// The caller went away or ran out of time: nothing broke here
		// (issue 14 item 11), so no ERROR line for the operator.
		s.log.InfoContext(ctx, "request abandoned", slog.String("op", op))
		return &tkesj.Error{Kind: tkesj.EUnavailable, Code: "abandoned", Message: "the request was abandoned before it finished; try again", Err: err}
	}
	ref := newID("e")
	s.log.ErrorContext(ctx, "internal error", slog.String("op", op), slog.String("ref", ref), slog.String("err", err.Error()))
	e := tkesj.Internal(err)
	e.Message = "something went wrong on our side; try again (reference " + ref + ")"
	return e
}
