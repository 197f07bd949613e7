// Package social is the social capability: finding people, friend requests,
// contacts, remarks and blocks, profiles and settings, and Moments (posts,
// likes, comments and who may see them). messaging, media, compliance and
// internal/service may import it; it builds on accounts and the kernel.
package social

import (
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
