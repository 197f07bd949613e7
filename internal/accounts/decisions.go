package accounts

import (
	"context"
	"time"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// Decision is an automated (or moderation) decision that restricted someone,
// in words the person can read (R-ADM-1, R-RGT-3).
type Decision struct {
	ID, Rule, Outcome string
	Inputs            map[string]string // what the rule looked at, without secrets
	Reason            string            // why, in words
	AppealID          string            // the rights request appealing it, if any
	CreatedAt         time.Time
}

type decisionDetails struct {
	Inputs map[string]string `json:"inputs"`
	Reason string            `json:"reason"`
}

func decisionAD(id string) string { return "decisions/" + id }

// RecordDecision stores a decision about userID. It is called by every rule
// that restricts someone: throttles, step-up, locks, rate limits, content
// blocks and moderation. It never fails the caller's action: a decision that
// cannot be stored is logged.
func (s *Service) RecordDecision(ctx context.Context, userID, rule, outcome, reason string, inputs map[string]string) {
	id := kernel.NewID("d")
	sealed, err := s.Seal(ctx, userID, decisionAD(id), decisionDetails{Inputs: inputs, Reason: reason})
	if err == nil {
		err = s.DB.Update(ctx, func(q *store.Queries) error {
			return q.AddDecision(ctx, store.DecisionRecord{ID: id, UserID: userID, Rule: rule, Outcome: outcome, Details: sealed, CreatedAt: s.Now()})
		})
	}
	if err != nil {
		s.Log.WarnContext(ctx, "record decision", "rule", rule, "user", userID, "err", err.Error())
	}
}

// Decisions lists the decisions about the caller, newest first.
func (s *Service) Decisions(ctx context.Context, a kernel.Auth) ([]Decision, error) {
	recs, err := s.DB.Read().Decisions(ctx, a.UserID, 200)
	if err != nil {
		return nil, s.Internal(ctx, "decisions", err)
	}
	out := make([]Decision, 0, len(recs))
	for _, r := range recs {
		out = append(out, s.DecisionView(ctx, r))
	}
	return out, nil
}

func (s *Service) DecisionView(ctx context.Context, r store.DecisionRecord) Decision {
	d := Decision{ID: r.ID, Rule: r.Rule, Outcome: r.Outcome, AppealID: r.AppealID, CreatedAt: r.CreatedAt}
	var det decisionDetails
	if s.Open(ctx, r.UserID, decisionAD(r.ID), r.Details, &det) == nil {
		d.Inputs, d.Reason = det.Inputs, det.Reason
	}
	return d
}

// LimitedFor answers a person who hit a rate limit and records the decision
// (R-ADM-1) — at most once per rule per person every 10 minutes, so a flood
// of refused calls cannot flood the person's decision list.
func (s *Service) LimitedFor(ctx context.Context, userID, rule, what string, wait time.Duration) error {
	if ok, _ := s.decisionNotes.Allow(userID + "\x00" + rule); ok {
		s.RecordDecision(ctx, userID, rule, "slowed down for "+wait.Round(time.Second).String(),
			"too many "+what+" in a short time: limits keep the service usable for everyone and stop abuse",
			map[string]string{"limit": what})
	}
	return RateLimited(wait, what)
}
