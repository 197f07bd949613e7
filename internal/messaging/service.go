// Package messaging is the messaging capability: direct and group
// conversations, messages and the group-commit writer that stores them,
// receipts, typing, recall, search, push notifications, QR codes for groups,
// friends and sign-in, and the seeding used by benchmarks. compliance and
// internal/service may import it; it builds on social, accounts and the kernel.
package messaging

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/push"
	"github.com/tkesj/tkesj/internal/ratelimit"
	"github.com/tkesj/tkesj/internal/social"
)

// The capabilities messaging builds on, embedded under their own names so
// their methods read as ours.
type (
	accountsService = accounts.Service
	socialService   = social.Service
)

// Service is the messaging capability. It is safe for concurrent use.
type Service struct {
	*kernel.Core
	*accountsService
	*socialService

	writer     *writer
	sends      *ratelimit.Limiter
	typing     *ratelimit.Limiter
	pusher     push.Provider
	presence   Presence      // who has a live socket anywhere; nil: nobody
	pushSlots  chan struct{} // bounds pushes in flight
	pushesSent atomic.Uint64
	// pushQueue hands scheduled pushes (ids only) to runPushes.
	pushQueue     chan pendingPush
	pushesDropped atomic.Uint64
	qr            qrLimits      // QR scans and login codes (qr.go)
	indexWake     chan struct{} // a message was stored (indexer.go)
	indexMu       sync.Mutex    // one indexer pass at a time
	indexAfter    string        // the conversation the last pass ended with (indexMu)
	copyMedia     MediaCopier
	caches        *caches      // member lists and send checks (caches.go)
	unindexBatch  atomic.Int64 // messages a purge's un-indexing batch takes (personal.go)
}

// New returns the messaging capability on core; Close stops its writer.
func New(core *kernel.Core, a *accounts.Service, so *social.Service) *Service {
	cfg := core.Cfg
	s := &Service{
		Core:            core,
		accountsService: a,
		socialService:   so,
		writer:          newWriter(core.DB, cfg.Writers, cfg.MaxBatch, cfg.CommitLinger),
		sends:           ratelimit.New(cfg.SendsPerMinute, time.Minute, 0),
		typing:          ratelimit.New(5, 5*time.Second, 0),
		pushSlots:       make(chan struct{}, 64),
		pushQueue:       make(chan pendingPush, 1024),
		indexWake:       make(chan struct{}, 1),
		caches:          newCaches(),
	}
	core.OnInvalidate(s.caches.drop)
	so.OnRelationEnded(func(ctx context.Context, a, b string) {
		s.Invalidate(ctx, kernel.Invalidation{Users: []string{a, b}})
	})
	s.registerPersonalData()
	s.Loops.Go(s.runPushes)
	s.Loops.Go(s.runExpiry)
	s.Loops.Go(s.runIndexer)
	return s
}

// Close stops the group-commit writer after the batches under way.
func (s *Service) Close() { s.writer.close() }

// WriterStats reports group commits and the writes they held.
func (s *Service) WriterStats() (batches, writes uint64) { return s.writer.stats() }

// ObserveCommits has f told how long each group commit's transaction took
// (its writes, the commit and its fsync); /metrics keeps a histogram.
func (s *Service) ObserveCommits(f func(time.Duration)) { s.writer.onCommit.Store(&f) }
