// Package social is the social capability: finding people, friend requests,
// contacts, remarks and blocks, profiles and settings, and Moments (posts,
// likes, comments and who may see them). messaging, media, compliance and
// internal/service may import it; it builds on accounts and the kernel.
package social

import (
	"context"
	"time"

	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/ratelimit"
)

// accountsService is embedded under its own name so its methods read as ours.
type accountsService = accounts.Service

// Service is the social capability. It is safe for concurrent use.
type Service struct {
	*kernel.Core
	*accountsService

	searches       *ratelimit.Limiter
	friendRequests *ratelimit.Limiter
	fanout         *fanOutWorker // Moments timelines (timeline.go)
	// onRelationEnded hears of every friendship ended and block made, after
	// the commit (OnRelationEnded).
	onRelationEnded func(ctx context.Context, a, b string)
}

// OnRelationEnded registers fn to hear, after the commit, that a and b are
// no longer free to message each other (a friendship ended, a block):
// messaging drops what it cached of their direct chat. Call it once, while
// wiring, before serving.
func (s *Service) OnRelationEnded(fn func(ctx context.Context, a, b string)) {
	s.onRelationEnded = fn
}

func (s *Service) relationEnded(ctx context.Context, a, b string) {
	if s.onRelationEnded != nil {
		s.onRelationEnded(ctx, a, b)
	}
}

// New returns the social capability on core and starts its Moments fan-out
// worker; Close stops it.
func New(core *kernel.Core, a *accounts.Service) *Service {
	s := &Service{
		Core:            core,
		accountsService: a,
		searches:        ratelimit.New(30, time.Minute, 0),
		friendRequests:  ratelimit.New(300, time.Hour, 0),
	}
	s.registerPersonalData()
	s.startFanOut()
	return s
}

// Close stops the Moments fan-out worker between two batches; what is left
// resumes on the next start.
func (s *Service) Close() { s.stopFanOut() }
