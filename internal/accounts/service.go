// Package accounts is the accounts capability: registration and sign-in,
// sessions and devices, login risk and step-up, guardians, freezing, consents
// and permissions, the privacy policy gate and automated decisions. Capability
// packages above it (social, messaging, media, compliance) and internal/service
// may import it; it imports only the kernel, privacy-free helpers and the store.
package accounts

import (
	"context"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/passhash"
	"github.com/tkesj/tkesj/internal/ratelimit"
)

// Service is the accounts capability. It is safe for concurrent use.
type Service struct {
	*kernel.Core
	Codes  tkesj.CodeSender // one-time codes by SMS
	Hasher *passhash.Hasher // password hashing, bounded (destruction re-checks passwords too)

	major         majorCache
	decisionNotes *ratelimit.Limiter                                           // one rate-limit decision per person and rule per 10 min
	wsTickets     wsTicketLedger                                               // WebSocket tickets redeemed on this node (wsticket.go)
	onPermission  func(ctx context.Context, userID, name string, granted bool) // OnPermissionChange
}

// New returns the accounts capability on core.
func New(core *kernel.Core, codes tkesj.CodeSender) *Service {
	cfg := core.Cfg
	params := passhash.Default
	if cfg.PasswordParams != nil {
		params = *cfg.PasswordParams
	}
	s := &Service{
		Core:          core,
		Codes:         codes,
		Hasher:        passhash.New(params, cfg.HashConcurrency),
		decisionNotes: ratelimit.New(1, 10*time.Minute, 0),
	}
	s.registerPersonalData()
	return s
}
