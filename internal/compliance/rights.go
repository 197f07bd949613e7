package compliance

import (
	"context"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/wire"
)

// Rights request kinds (R-RGT-2, R-RGT-3).
var rightsKinds = map[string]string{
	"access":      "a copy of personal information the self-service export does not cover",
	"correction":  "correcting or completing personal information",
	"deletion":    "deleting specific personal information",
	"explanation": "explaining an automated decision",
	"complaint":   "a complaint about how personal information is handled",
}

// RightsRequest is a request as its owner sees it.
type RightsRequest struct {
	ID, Kind, Details, Status, Answer string
	ReceivedAt, DueAt, UpdatedAt      time.Time
	VerifiedAt                        time.Time
}

const (
	rightsDue    = 30 * 24 * time.Hour
	rightsRepeat = 30 * 24 * time.Hour
)

func rightsAD(id string) string { return "rights_requests/" + id }

// CreateRightsRequest files a request that self-service can't meet (R-RGT-2):
// it is received now and due in 30 days; a code goes to the phone on file to
// re-verify the person's identity. Free, but the same request again within
// 30 days is refused with the date it may be asked again.
func (s *Service) CreateRightsRequest(ctx context.Context, a kernel.Auth, kind, details string) (RightsRequest, error) {
	if _, ok := rightsKinds[kind]; !ok {
		return RightsRequest{}, tkesj.Errorf(tkesj.EInvalid, "invalid_kind", "kind must be access, correction, deletion, explanation or complaint")
	}
	details = strings.TrimSpace(details)
	if details == "" || len([]rune(details)) > 4000 {
		return RightsRequest{}, tkesj.Errorf(tkesj.EInvalid, "invalid_details", "say what you ask for in 1 to 4000 characters")
	}
	u, err := s.Me(ctx, a)
	if err != nil {
		return RightsRequest{}, err
	}
	now := s.Now()
	fp := s.Keys.Index("rights", a.UserID+"\x00"+kind+"\x00"+strings.ToLower(strings.Join(strings.Fields(details), " ")))
	if prev, err := s.DB.Read().LatestRepeat(ctx, a.UserID, fp, now.Add(-rightsRepeat)); err == nil && prev.Status != "refused" {
		again := prev.ReceivedAt.Add(rightsRepeat)
		e := tkesj.Errorf(tkesj.ERateLimited, "repeated_request", "you made the same request on %s; you may ask again from %s, or add what has changed",
			prev.ReceivedAt.Format("2006-01-02"), again.Format("2006-01-02"))
		e.RetryAfter = again.Sub(now)
		return RightsRequest{}, e
	}
	id := kernel.NewID("q")
	sealed, err := s.Seal(ctx, a.UserID, rightsAD(id), details)
	if err != nil {
		return RightsRequest{}, s.Internal(ctx, "rights request", err)
	}
	rec := store.RightsRequestRecord{ID: id, UserID: a.UserID, Kind: kind, Fingerprint: fp, Details: sealed, Status: "received",
		ReceivedAt: now, DueAt: now.Add(rightsDue), UpdatedAt: now}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.CreateRightsRequest(ctx, rec) }); err != nil {
		return RightsRequest{}, s.Internal(ctx, "rights request", err)
	}
	// Identity is re-verified with a fresh code to the phone on file.
	if err := s.sendStepUp(ctx, u.Phone); err != nil {
		s.Log.WarnContext(ctx, "rights request code", "request", id, "err", err.Error())
	}
	return s.rightsView(ctx, rec), nil
}

// sendStepUp sends a step_up code to the person's own phone.
func (s *Service) sendStepUp(ctx context.Context, phone string) error {
	if err := s.CodeQuota(ctx, phone, ""); err != nil {
		return err
	}
	return s.IssueCode(ctx, phone, tkesj.PurposeStepUp, tkesj.PurposeStepUp)
}

// VerifyRightsRequest re-verifies the requester with the code sent to their phone.
func (s *Service) VerifyRightsRequest(ctx context.Context, a kernel.Auth, id, code string) (RightsRequest, error) {
	rec, err := s.DB.Read().FindRightsRequest(ctx, id)
	if err != nil || rec.UserID != a.UserID {
		return RightsRequest{}, tkesj.ErrNotFound("rights request")
	}
	if rec.Status != "received" {
		return s.rightsView(ctx, rec), nil
	}
	u, err := s.Me(ctx, a)
	if err != nil {
		return RightsRequest{}, err
	}
	if err := s.ConsumeCode(ctx, u.Phone, tkesj.PurposeStepUp, code); err != nil {
		return RightsRequest{}, err
	}
	now := s.Now()
	if err := s.DB.Update(ctx, func(q *store.Queries) error {
		return q.UpdateRightsRequest(ctx, id, "identity_verified", nil, now, now)
	}); err != nil {
		return RightsRequest{}, s.Internal(ctx, "verify rights request", err)
	}
	rec.Status, rec.VerifiedAt, rec.UpdatedAt = "identity_verified", now, now
	return s.rightsView(ctx, rec), nil
}

// RightsRequests lists the caller's requests, newest first.
func (s *Service) RightsRequests(ctx context.Context, a kernel.Auth) ([]RightsRequest, error) {
	recs, err := s.DB.Read().RightsRequestsOf(ctx, a.UserID)
	if err != nil {
		return nil, s.Internal(ctx, "rights requests", err)
	}
	out := make([]RightsRequest, 0, len(recs))
	for _, r := range recs {
		out = append(out, s.rightsView(ctx, r))
	}
	return out, nil
}

// AdvanceRightsRequest is staff's step on a request: in_progress, done (with
// an answer) or refused (the reason is required). Only verified requests move
// on; a failed step leaves the request where it was, so work resumes from its
// last step.
func (s *Service) AdvanceRightsRequest(ctx context.Context, id, status, answer string) (RightsRequest, error) {
	rec, err := s.DB.Read().FindRightsRequest(ctx, id)
	if err != nil {
		return RightsRequest{}, err
	}
	allowed := map[string][]string{
		"identity_verified": {"in_progress", "done", "refused"},
		"in_progress":       {"done", "refused"},
	}
	ok := false
	for _, next := range allowed[rec.Status] {
		ok = ok || next == status
	}
	if !ok {
		return RightsRequest{}, tkesj.Errorf(tkesj.EConflict, "invalid_transition", "a %s request cannot become %s", rec.Status, status)
	}
	answer = strings.TrimSpace(answer)
	if status == "refused" && answer == "" {
		return RightsRequest{}, tkesj.Errorf(tkesj.EInvalid, "reason_required", "a refusal must give its reason")
	}
	var sealed []byte
	if answer != "" {
		if sealed, err = s.Seal(ctx, rec.UserID, rightsAD(id)+"/answer", answer); err != nil {
			return RightsRequest{}, s.Internal(ctx, "advance rights request", err)
		}
	}
	now := s.Now()
	if err := s.DB.Update(ctx, func(q *store.Queries) error {
		return q.UpdateRightsRequest(ctx, id, status, sealed, time.Time{}, now)
	}); err != nil {
		return RightsRequest{}, s.Internal(ctx, "advance rights request", err)
	}
	rec, _ = s.DB.Read().FindRightsRequest(ctx, id)
	s.Publish(ctx, []string{rec.UserID}, wire.RightsRequestFrame{Type: "rights_request", ID: id, Status: status})
	return s.rightsView(ctx, rec), nil
}

func (s *Service) rightsView(ctx context.Context, r store.RightsRequestRecord) RightsRequest {
	v := RightsRequest{ID: r.ID, Kind: r.Kind, Status: r.Status, ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, UpdatedAt: r.UpdatedAt, VerifiedAt: r.VerifiedAt}
	s.Open(ctx, r.UserID, rightsAD(r.ID), r.Details, &v.Details)
	if r.Answer != nil {
		s.Open(ctx, r.UserID, rightsAD(r.ID)+"/answer", r.Answer, &v.Answer)
	}
	return v
}

// OpenRightsRequests lists requests staff must still answer, soonest due
// first. Details are not included: reading them is a separate, audited step.
func (s *Service) OpenRightsRequests(ctx context.Context) ([]RightsRequest, error) {
	recs, err := s.DB.Read().OpenRightsRequests(ctx, 500)
	if err != nil {
		return nil, s.Internal(ctx, "open rights requests", err)
	}
	out := make([]RightsRequest, 0, len(recs))
	for _, r := range recs {
		out = append(out, RightsRequest{ID: r.ID, Kind: r.Kind, Status: r.Status, ReceivedAt: r.ReceivedAt, DueAt: r.DueAt, UpdatedAt: r.UpdatedAt, VerifiedAt: r.VerifiedAt})
	}
	return out, nil
}

// AppealDecision asks for an explanation of, or complains about, a decision:
// it opens a rights request (R-RGT-3) linked to the decision.
func (s *Service) AppealDecision(ctx context.Context, a kernel.Auth, id, kind, text string) (RightsRequest, error) {
	rec, err := s.DB.Read().FindDecision(ctx, id)
	if err != nil || rec.UserID != a.UserID {
		return RightsRequest{}, tkesj.ErrNotFound("decision")
	}
	if rec.AppealID != "" {
		return RightsRequest{}, tkesj.Errorf(tkesj.EConflict, "already_appealed", "this decision is already appealed (request %s)", rec.AppealID)
	}
	if kind == "" {
		kind = "explanation"
	}
	if kind != "explanation" && kind != "complaint" {
		return RightsRequest{}, tkesj.Errorf(tkesj.EInvalid, "invalid_kind", "an appeal asks for an explanation or makes a complaint")
	}
	d := s.DecisionView(ctx, rec)
	details := "Appeal of decision " + id + " (" + d.Rule + ": " + d.Outcome + " on " + d.CreatedAt.Format("2006-01-02 15:04") + " UTC)."
	if text != "" {
		details += " " + text
	}
	req, err := s.CreateRightsRequest(ctx, a, kind, details)
	if err != nil {
		return RightsRequest{}, err
	}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.SetAppeal(ctx, id, req.ID) }); err != nil {
		return RightsRequest{}, s.Internal(ctx, "appeal", err)
	}
	return req, nil
}
