// Package service composes the capability packages (accounts, social,
// messaging, media, calls, compliance) on one kernel into the single Service that
// internal/app wires and internal/httpapi, internal/bench and the end-to-end
// tests call. It holds no logic of its own: the embedded capabilities' methods
// are promoted, so callers keep one value and one set of method names while
// each capability keeps its own package. Only internal/app, internal/httpapi,
// internal/bench, cmd and tests import it.
package service

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/calls"
	"github.com/tkesj/tkesj/internal/compliance"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/media"
	"github.com/tkesj/tkesj/internal/messaging"
	"github.com/tkesj/tkesj/internal/social"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Deps are the service's collaborators.
type Deps struct {
	DB    *store.DB
	Keys  *keyring.Keyring
	Codes tkesj.CodeSender
	Bus   tkesj.Bus // nil: no real-time delivery (tests of pure logic)
	Blobs tkesj.BlobStore
	Log   *slog.Logger
	// KeyIDs lists every data key id (not the index key); the cessation of
	// the service destroys them all (compliance/ops.go). Nil: only the people's own keys.
	KeyIDs func(ctx context.Context) ([]string, error)
	// Calls are the TURN relay, the SFU's ports and the ringing of calls
	// (internal/app makes them from its flags); zero: no relay, defaults.
	Calls calls.Options
}

// The capabilities, embedded under their own names (each package calls its
// type Service) so that their methods are promoted to Service.
type (
	accountsService   = accounts.Service
	socialService     = social.Service
	messagingService  = messaging.Service
	mediaService      = media.Service
	complianceService = compliance.Service
)

// Service is the whole of tkesj's logic, one capability per embedded field.
// Calls is a named field, not embedded: its verbs (Start, Join, Leave, Find)
// read as calls' own at the call site (svc.Calls.Join). It is safe for
// concurrent use.
type Service struct {
	*kernel.Core
	*accountsService
	*socialService
	*messagingService
	*mediaService
	*complianceService
	Calls *calls.Service
}

// New returns a Service. It publishes the first policy version if the store has none.
func New(ctx context.Context, d Deps, cfg Config) (*Service, error) {
	core := kernel.NewCore(d.DB, d.Keys, d.Bus, d.Blobs, d.Log, cfg)
	if _, err := d.DB.Read().CurrentPolicy(ctx); tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		err = d.DB.Update(ctx, func(q *store.Queries) error {
			return q.PublishPolicy(ctx, tkesj.Policy{Version: tkesj.FirstPolicyVersion, Major: true, Text: tkesj.FirstPolicyText, PublishedAt: core.Now()})
		})
		if err != nil && tkesj.ErrorKindOf(err) != tkesj.EConflict {
			return nil, fmt.Errorf("publish first policy: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	a := accounts.New(core, d.Codes)
	so := social.New(core, a)
	m := messaging.New(core, a, so)
	md := media.New(core, a, so)
	cs, err := calls.New(core, a, m, d.Calls)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("calls: %w", err)
	}
	m.SetMediaCopier(md.CopyMedia)
	c := compliance.New(ctx, core, a, so, m, md, d.KeyIDs)
	return &Service{Core: core, accountsService: a, socialService: so, messagingService: m, mediaService: md, complianceService: c, Calls: cs}, nil
}

// Start runs the purger (retention and the purge of destroyed accounts) and
// the operations loop, each at least every interval, until Close.
func (s *Service) Start(interval time.Duration) { s.complianceService.Start(interval) }

// Close stops every background loop (kernel.Loops: purger, operations,
// push timers) and waits for them, then the exports under way (they are
// marked failed), the Moments fan-out worker between two batches (what is
// left resumes on the next start) and the group-commit writer after the
// batches under way.
func (s *Service) Close() {
	s.Loops.Stop()
	s.Calls.Close()
	s.socialService.Close()
	s.complianceService.Close()
	s.messagingService.Close()
}

// ReadyFrame is messaging's ready frame plus the live calls of the person's
// conversations, so a device that connects while a call rings rings too.
func (s *Service) ReadyFrame(ctx context.Context, userID string) ([]byte, error) {
	b, err := s.messagingService.ReadyFrame(ctx, userID)
	if err != nil {
		return nil, err
	}
	live := s.Calls.LiveFor(ctx, userID)
	if len(live) == 0 {
		return b, nil
	}
	var ready wire.ReadyFrame
	if err := json.Unmarshal(b, &ready); err != nil {
		return b, nil
	}
	ready.Calls = live
	return json.Marshal(ready)
}

// ClientFrame hands a socket's call frames to calls and every other frame
// to messaging.
func (s *Service) ClientFrame(ctx context.Context, userID string, deviceIdx []byte, frame []byte) error {
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(frame, &head) == nil && calls.IsFrame(head.Type) {
		return s.Calls.ClientFrame(ctx, userID, deviceIdx, frame)
	}
	return s.messagingService.ClientFrame(ctx, userID, deviceIdx, frame)
}

// Ping reports whether the store answers.
func (s *Service) Ping(ctx context.Context) error { return s.DB.Ping(ctx) }
