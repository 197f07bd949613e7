// Package media is the media capability: uploads of pictures, voice, video
// and files, sealed in the owner's key and streamed back to those who may see
// them, and avatars. compliance and internal/service may import it; it builds
// on social, accounts and the kernel. Its subpackages are the blob-store
// adapters (disk, s3), the shared checks for them (mediatest) and the pure
// processing it calls (process); only internal/app wires the adapters.
package media

import (
	"time"

	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/media/process"
	"github.com/tkesj/tkesj/internal/ratelimit"
	"github.com/tkesj/tkesj/internal/social"
)

// The capabilities media builds on, embedded under their own names so their
// methods read as ours.
type (
	accountsService = accounts.Service
	socialService   = social.Service
)

// Service is the media capability. It is safe for concurrent use.
type Service struct {
	*kernel.Core
	*accountsService
	*socialService

	uploads *ratelimit.Limiter
	images  *process.Decoder // picture decoding within one memory budget (R-SEC-5)
}

// New returns the media capability on core.
func New(core *kernel.Core, a *accounts.Service, so *social.Service) *Service {
	s := &Service{
		Core:            core,
		accountsService: a,
		socialService:   so,
		uploads:         ratelimit.New(120, time.Hour, 0),
		images:          process.NewDecoder(core.Cfg.DecodeBudget),
	}
	s.registerPersonalData()
	return s
}
