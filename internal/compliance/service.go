// Package compliance is the compliance capability and the only one that reads
// other people's data for staff: staff roles and the audit log, rights
// requests, data export, account destruction and the purge, legal holds,
// sharing with recipients, incidents, moderation, support, operations
// (announcements, statistics, cessation) and retention. Only internal/service
// imports it; it builds on every other capability and the kernel.
package compliance

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/media"
	"github.com/tkesj/tkesj/internal/messaging"
	"github.com/tkesj/tkesj/internal/social"
)

// The capabilities compliance builds on, embedded under their own names so
// their methods read as ours.
type (
	accountsService  = accounts.Service
	socialService    = social.Service
	messagingService = messaging.Service
	mediaService     = media.Service
)

// Service is the compliance capability. It is safe for concurrent use.
type Service struct {
	*kernel.Core
	*accountsService
	*socialService
	*messagingService
	*mediaService

	purgeNow    chan struct{} // wakes the purger after a destruction
	exports     *exportJobs   // data exports building on this node (export.go)
	retentionMu sync.Mutex
	retention   map[string]*atomic.Int64 // removed by each retention rule since start
	ops         *opsState                // sharing, notices, cessation (ops.go)
	keyIDs      func(ctx context.Context) ([]string, error)
	probeID     string // this process's name for its readiness write probes
}

// New returns the compliance capability on core and starts the export
// workers; Close stops them. keyIDs lists every data key id for the
// cessation of the service (nil: only the people's own keys).
func New(ctx context.Context, core *kernel.Core, a *accounts.Service, so *social.Service, m *messaging.Service, md *media.Service, keyIDs func(ctx context.Context) ([]string, error)) *Service {
	s := &Service{
		Core:             core,
		accountsService:  a,
		socialService:    so,
		messagingService: m,
		mediaService:     md,
		purgeNow:         make(chan struct{}, 1),
		ops:              newOpsState(),
		retention:        map[string]*atomic.Int64{},
		keyIDs:           keyIDs,
		probeID:          kernel.NewID("node"),
	}
	s.registerPersonalData()
	s.exports = s.startExports(ctx)
	return s
}

// Start runs the purger (RunPurger) and the operations loop (RunOps) under
// the kernel's loops, each at least every interval, until they are stopped.
func (s *Service) Start(interval time.Duration) {
	s.Loops.Go(func(ctx context.Context) { s.RunPurger(ctx, interval) })
	s.Loops.Go(func(ctx context.Context) { s.RunOps(ctx, interval) })
}

// Close stops the exports under way; they are marked failed.
func (s *Service) Close() { s.stopExports() }
