package service

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// majorCache remembers the newest major policy's publication time for a few
// seconds, so the gate costs no query per request; other nodes see a new
// version within that time.
type majorCache struct {
	mu      sync.Mutex
	at      time.Time // publication time of the newest major version
	fetched time.Time
}

func (s *Service) latestMajor(ctx context.Context) (time.Time, error) {
	s.major.mu.Lock()
	defer s.major.mu.Unlock()
	now := time.Now()
	if now.Sub(s.major.fetched) < s.cfg.PolicyCacheTTL {
		return s.major.at, nil
	}
	p, err := s.db.Read().LatestMajorPolicy(ctx)
	if err != nil && tkesj.ErrorKindOf(err) != tkesj.ENotFound {
		return time.Time{}, s.internal(ctx, "policy", err)
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

// PublishPolicy publishes a new policy version (R-POL-1). A major version
// must be accepted by every person before they continue; a minor one is only
// announced. Everyone connected hears of it at once.
func (s *Service) PublishPolicy(ctx context.Context, version string, major bool, text string) (tkesj.Policy, error) {
	version = strings.TrimSpace(version)
	if version == "" || len(version) > 32 || strings.TrimSpace(text) == "" {
		return tkesj.Policy{}, tkesj.Errorf(tkesj.EInvalid, "invalid_policy", "a policy needs a version (at most 32 characters) and a text")
	}
	p := tkesj.Policy{Version: version, Major: major, Text: text, PublishedAt: s.now()}
	if err := s.db.Update(ctx, func(q *store.Queries) error { return q.PublishPolicy(ctx, p) }); err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.EConflict {
			return tkesj.Policy{}, err
		}
		return tkesj.Policy{}, s.internal(ctx, "publish policy", err)
	}
	s.major.mu.Lock()
	s.major.fetched = time.Time{}
	s.major.mu.Unlock()
	s.broadcast(ctx, wire.PolicyFrame{Type: "policy", Version: p.Version, Major: p.Major})
	// Everyone also finds it in their announcements inbox (R-OPS-2).
	title, body := "The privacy policy was updated (version "+p.Version+")", "Read it at /api/v1/policy."
	if p.Major {
		body = "This is a major change: read it at /api/v1/policy and accept it to continue, or export your data or destroy your account."
	}
	if _, err := s.announce(ctx, "policy", title, body); err != nil {
		s.log.WarnContext(ctx, "policy announcement", "err", err.Error())
	}
	return p, nil
}

// broadcast publishes frame to every account, a page of ids per event.
func (s *Service) broadcast(ctx context.Context, frame any) {
	after := ""
	for {
		ids, err := s.db.Read().UserIDs(ctx, after, 1000)
		if err != nil || len(ids) == 0 {
			return
		}
		s.publish(ctx, ids, frame)
		after = ids[len(ids)-1]
	}
}

// AcceptPolicy records the caller's acceptance of the current version: a
// ledger entry (R-CON-1), and the gate opens.
func (s *Service) AcceptPolicy(ctx context.Context, a Auth, version string) error {
	cur, err := s.Policy(ctx)
	if err != nil {
		return err
	}
	if version != cur.Version {
		return tkesj.Errorf(tkesj.EConflict, "policy_version_mismatch", "the current policy is version %s; read it and accept that version", cur.Version)
	}
	err = s.db.Update(ctx, func(q *store.Queries) error {
		if err := q.AppendConsent(ctx, a.UserID, tkesj.Consent{Kind: tkesj.ConsentPolicy, Subject: cur.Version, Granted: true,
			Purpose: "acceptance of an updated privacy policy", PolicyVersion: cur.Version, Method: "api", At: s.now()}); err != nil {
			return err
		}
		return q.SetPolicyAccepted(ctx, a.UserID, cur.PublishedAt)
	})
	if err != nil {
		return s.internal(ctx, "accept policy", err)
	}
	return nil
}
