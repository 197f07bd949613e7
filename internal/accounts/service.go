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
	"github.com/tkesj/tkesj/internal/store"
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
	sessions      *kernel.LRU[string, store.SessionRecord]                     // token hash → session (authenticateHash)
}

// sessionCacheSize bounds the sessions a node keeps in memory (~200 bytes
// each: 20 MB).
const sessionCacheSize = 100_000

// sessionCacheTTL is how long a node trusts a session it read (issue 17).
// Every sign-out, status change, policy acceptance and restriction drops
// the person's sessions on every node at once (kernel.Invalidate and the
// close events); the TTL bounds what a node that missed such an event
// could go on accepting, and is also how late it notices a session that
// retention deleted with its idle device.
const sessionCacheTTL = time.Minute

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
		sessions:      kernel.NewLRU[string](sessionCacheSize, sessionCacheTTL, func(store.SessionRecord) int { return 1 }),
	}
	core.OnInvalidate(func(inv kernel.Invalidation) {
		if len(inv.Users) == 0 {
			return
		}
		s.sessions.RemoveIf(func(_ string, sess store.SessionRecord) bool {
			for _, u := range inv.Users {
				if sess.UserID == u {
					return true
				}
			}
			return false
		})
	})
	s.registerPersonalData()
	return s
}
