package accounts

import (
	"context"
	"sync"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// majorCache remembers the newest major policy's publication time for a few
// seconds, so the gate costs no query per request; other nodes see a new
// version within that time.
type majorCache struct {
	mu      sync.Mutex
	at      time.Time // publication time of the newest major version
	fetched time.Time
}

// ForgetMajorPolicy makes the next policy gate read the newest major version
// from the store (after this node published one).
func (s *Service) ForgetMajorPolicy() {
	s.major.mu.Lock()
	s.major.fetched = time.Time{}
	s.major.mu.Unlock()
}

func (s *Service) latestMajor(ctx context.Context) (time.Time, error) {
	s.major.mu.Lock()
	defer s.major.mu.Unlock()
	now := time.Now()
	if now.Sub(s.major.fetched) < s.Cfg.PolicyCacheTTL {
		return s.major.at, nil
	}
	p, err := s.DB.Read().LatestMajorPolicy(ctx)
	if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		return time.Time{}, s.Internal(ctx, "policy", err)
	}
	s.major.at, s.major.fetched = p.PublishedAt, now
	return p.PublishedAt, nil
}

func (s *Service) policyPending(ctx context.Context, acceptedAt time.Time) (bool, error) {
	major, err := s.latestMajor(ctx)
	if err != nil {
		return false, err
	}
	return !major.IsZero() && acceptedAt.Before(major), nil
}

// AcceptPolicy records the caller's acceptance of the current version: a
// ledger entry (R-CON-1), and the gate opens.
func (s *Service) AcceptPolicy(ctx context.Context, a kernel.Auth, version string) error {
	cur, err := s.Policy(ctx)
	if err != nil {
		return err
	}
	if version != cur.Version {
		return tkesj.Errorf(tkesj.EConflict, "policy_version_mismatch", "the current policy is version %s; read it and accept that version", cur.Version)
	}
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.AppendConsent(ctx, a.UserID, tkesj.Consent{Kind: tkesj.ConsentPolicy, Subject: cur.Version, Granted: true,
			Purpose: "acceptance of an updated privacy policy", PolicyVersion: cur.Version, Method: "api", At: s.Now()}); err != nil {
			return err
		}
		return q.SetPolicyAccepted(ctx, a.UserID, cur.PublishedAt)
	})
	if err != nil {
		return s.Internal(ctx, "accept policy", err)
	}
	s.Invalidate(ctx, kernel.Invalidation{Users: []string{a.UserID}}) // sessions that still say pending
	return nil
}
