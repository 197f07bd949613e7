package compliance

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/social"
	"github.com/tkesj/tkesj/internal/store"
)

// Moderation (policy §2 (III) 2): people report users, messages and
// Moments; moderators act on reports with a warning, a restriction (no
// sending, posting or commenting for some days) or a ban (the same, with no
// end). Every action is a decision the person reads and may appeal (R-ADM-1,
// R-RGT-3); a banned person can still sign in, read why, appeal, export their
// data and destroy their account. The public enforcement page counts actions
// per month and nothing else.

// Report is a report as staff see it; Reason and Content only in the audited read.
type Report struct {
	ID, ReporterID, TargetKind, TargetID, TargetUserID, Status string
	Reason, Content                                            string
	CreatedAt, ResolvedAt                                      time.Time
}

type reportReason struct {
	Reason string `json:"reason"`
}

func reportAD(id string) string { return "reports/" + id }

const reportsPerHour = 20

// CreateReport files a report of a user, a message ("conversation_id:seq")
// or a Moment. The target must exist and be visible to the reporter; anything
// else is not_found.
func (s *Service) CreateReport(ctx context.Context, a kernel.Auth, kind, targetID, reason string) (Report, error) {
	reason = strings.TrimSpace(reason)
	if n := len([]rune(reason)); n < 1 || n > 1000 {
		return Report{}, tkesj.Errorf(tkesj.EInvalid, "invalid_reason", "say what is wrong in 1 to 1000 characters")
	}
	q := s.DB.Read()
	var owner string
	switch kind {
	case "user":
		if targetID == a.UserID {
			return Report{}, tkesj.Errorf(tkesj.EInvalid, "invalid_target", "you cannot report yourself")
		}
		if _, err := s.LookupProfile(ctx, q, targetID); err != nil {
			return Report{}, tkesj.ErrNotFound("user")
		}
		owner = targetID
	case "message":
		convID, seqStr, ok := strings.Cut(targetID, ":")
		seq, err := strconv.ParseInt(seqStr, 10, 64)
		if !ok || err != nil {
			return Report{}, tkesj.ErrNotFound("message")
		}
		m, err := s.Member(ctx, q, a, convID)
		if err != nil {
			return Report{}, tkesj.ErrNotFound("message")
		}
		msg, err := q.FindMessage(ctx, convID, seq)
		if err != nil || seq <= m.JoinedSeq || msg.Recalled || msg.Body == nil || msg.SenderID == a.UserID {
			return Report{}, tkesj.ErrNotFound("message")
		}
		owner = msg.SenderID
	case "moment":
		v, err := s.NewViewer(ctx, q, a.UserID)
		if err != nil {
			return Report{}, s.Internal(ctx, "report", err)
		}
		m, err := s.VisibleMoment(ctx, q, v, targetID)
		if err != nil || m.AuthorID == a.UserID {
			return Report{}, tkesj.ErrNotFound("moment")
		}
		owner = m.AuthorID
	default:
		return Report{}, tkesj.Errorf(tkesj.EInvalid, "invalid_target_kind", "target_kind must be user, message or moment")
	}
	now := s.Now()
	if n, err := q.CountReportsSince(ctx, a.UserID, now.Add(-time.Hour)); err != nil {
		return Report{}, s.Internal(ctx, "report", err)
	} else if n >= reportsPerHour {
		return Report{}, accounts.RateLimited(time.Hour, "reports")
	}
	id := kernel.NewID("r")
	sealed, err := s.Seal(ctx, a.UserID, reportAD(id), reportReason{Reason: reason})
	if err != nil {
		return Report{}, s.Internal(ctx, "report", err)
	}
	rec := store.ReportRecord{ID: id, ReporterID: a.UserID, TargetKind: kind, TargetID: targetID, TargetUserID: owner, Reason: sealed, Status: "open", CreatedAt: now}
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.CreateReport(ctx, rec); err != nil {
			return err
		}
		return q.CountEnforcement(ctx, now.Format("2006-01"), "reports_received")
	})
	if err != nil {
		return Report{}, s.Internal(ctx, "report", err)
	}
	return Report{ID: id, TargetKind: kind, TargetID: targetID, Status: "open", CreatedAt: now}, nil
}

func reportView(r store.ReportRecord) Report {
	return Report{ID: r.ID, ReporterID: r.ReporterID, TargetKind: r.TargetKind, TargetID: r.TargetID, TargetUserID: r.TargetUserID,
		Status: r.Status, CreatedAt: r.CreatedAt, ResolvedAt: r.ResolvedAt}
}

// Reports lists reports by status ("" for all), oldest first, without
// reasons or content (moderator).
func (s *Service) Reports(ctx context.Context, a kernel.Auth, status string) ([]Report, error) {
	if _, err := s.staff(ctx, a, PermModeration); err != nil {
		return nil, err
	}
	switch status {
	case "", "open", "actioned", "dismissed":
	default:
		return nil, tkesj.Errorf(tkesj.EInvalid, "invalid_status", "status must be open, actioned or dismissed")
	}
	recs, err := s.DB.Read().Reports(ctx, status, 500)
	if err != nil {
		return nil, s.Internal(ctx, "reports", err)
	}
	out := make([]Report, 0, len(recs))
	for _, r := range recs {
		out = append(out, reportView(r))
	}
	return out, nil
}

// ReadReport shows a report's reason and the reported content as it is now
// (deleted content is gone). The purpose is required; the read is logged and
// shown to both the reporter and the reported person.
func (s *Service) ReadReport(ctx context.Context, a kernel.Auth, id, purpose string) (Report, error) {
	st, err := s.staff(ctx, a, PermModeration)
	if err != nil {
		return Report{}, err
	}
	if purpose, err = checkPurpose(purpose); err != nil {
		return Report{}, err
	}
	rec, err := s.DB.Read().FindReport(ctx, id)
	if err != nil {
		return Report{}, tkesj.ErrNotFound("report")
	}
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := s.audit(ctx, q, st, auditEntry{Action: "read:report_reason", Subject: rec.ReporterID, Target: "your report " + id,
			Details: auditDetails{Purpose: purpose}, Visible: true}); err != nil {
			return err
		}
		return s.audit(ctx, q, st, auditEntry{Action: "read:reported_content", Subject: rec.TargetUserID, Target: "reported " + rec.TargetKind,
			Details: auditDetails{Purpose: purpose}, Visible: true})
	})
	if err != nil {
		return Report{}, s.Internal(ctx, "read report", err)
	}
	r := reportView(rec)
	var rr reportReason
	if s.Open(ctx, rec.ReporterID, reportAD(id), rec.Reason, &rr) == nil {
		r.Reason = rr.Reason
	}
	r.Content = s.reportedContent(ctx, rec)
	return r, nil
}

// reportedContent opens what was reported, as it is now.
func (s *Service) reportedContent(ctx context.Context, rec store.ReportRecord) string {
	q := s.DB.Read()
	switch rec.TargetKind {
	case "user":
		if p, err := s.LookupProfile(ctx, q, rec.TargetID); err == nil {
			return "username " + p.Username + ", nickname " + p.Nickname
		}
	case "message":
		convID, seqStr, _ := strings.Cut(rec.TargetID, ":")
		seq, _ := strconv.ParseInt(seqStr, 10, 64)
		if m, err := q.FindMessage(ctx, convID, seq); err == nil {
			if v := s.MessageView(ctx, m); !v.SenderDeleted && !v.Recalled {
				return v.Text
			}
		}
	case "moment":
		if m, err := q.FindMoment(ctx, rec.TargetID); err == nil {
			var b social.MomentBody
			if s.Open(ctx, m.AuthorID, social.MomentAD(m.ID), m.Body, &b) == nil {
				return b.Text
			}
		}
	}
	return ""
}

// ModerationInput is a moderator's action on a person.
type ModerationInput struct {
	UserID, Action, Reason, ReportID string
	Days                             int // restrict: 1 to 365
}

// ModerationResult is what an action did.
type ModerationResult struct {
	Action, UserID, DecisionID string
	Until                      time.Time // restrict: when it ends
}

var moderationOutcomes = map[string]string{
	"warn":     "warned",
	"restrict": "cannot send messages, post or comment until %s",
	"ban":      "banned: cannot send messages, post or comment",
	"lift":     "restrictions lifted",
}

// Moderate warns, restricts, bans or lifts restrictions (moderator). Each
// of warn, restrict and ban is a decision (rule moderation:<action>) the
// person reads in GET /me/decisions with the reason and may appeal; they also
// get a notice. The public enforcement count goes up by one.
func (s *Service) Moderate(ctx context.Context, a kernel.Auth, in ModerationInput) (ModerationResult, error) {
	st, err := s.staff(ctx, a, PermModeration)
	if err != nil {
		return ModerationResult{}, err
	}
	outcome, ok := moderationOutcomes[in.Action]
	if !ok {
		return ModerationResult{}, tkesj.Errorf(tkesj.EInvalid, "invalid_action", "action must be warn, restrict, ban or lift")
	}
	reason := strings.TrimSpace(in.Reason)
	if n := len([]rune(reason)); n < 10 || n > 1000 {
		return ModerationResult{}, tkesj.Errorf(tkesj.EInvalid, "reason_required", "give the reason in 10 to 1000 characters; the person reads it")
	}
	now := s.Now()
	res := ModerationResult{Action: in.Action, UserID: in.UserID}
	if in.Action == "restrict" {
		if in.Days < 1 || in.Days > 365 {
			return ModerationResult{}, tkesj.Errorf(tkesj.EInvalid, "invalid_days", "a restriction lasts 1 to 365 days")
		}
		res.Until = now.Add(time.Duration(in.Days) * 24 * time.Hour)
		outcome = strings.Replace(outcome, "%s", res.Until.Format("2006-01-02 15:04")+" UTC", 1)
	}
	if _, err := s.LookupProfile(ctx, s.DB.Read(), in.UserID); err != nil {
		return ModerationResult{}, tkesj.ErrNotFound("user")
	}
	if in.ReportID != "" {
		r, err := s.DB.Read().FindReport(ctx, in.ReportID)
		if err != nil || r.TargetUserID != in.UserID {
			return ModerationResult{}, tkesj.ErrNotFound("report")
		}
	}
	rule := "moderation:" + in.Action
	if in.Action != "lift" {
		inputs := map[string]string{"action": in.Action, "moderator_role": st.Role}
		if in.ReportID != "" {
			inputs["report_id"] = in.ReportID
		}
		if in.Days > 0 && in.Action == "restrict" {
			inputs["days"] = strconv.Itoa(in.Days)
		}
		s.RecordDecision(ctx, in.UserID, rule, outcome, reason, inputs)
		if ds, err := s.DB.Read().Decisions(ctx, in.UserID, 1); err == nil && len(ds) == 1 && ds[0].Rule == rule {
			res.DecisionID = ds[0].ID
		}
	}
	var n Notice
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		switch in.Action {
		case "restrict", "ban":
			if err := q.AddRestriction(ctx, store.RestrictionRecord{ID: kernel.NewID("x"), UserID: in.UserID, Kind: in.Action, Until: res.Until,
				DecisionID: res.DecisionID, CreatedAt: now}); err != nil {
				return err
			}
		case "lift":
			if _, err := q.LiftRestrictions(ctx, in.UserID, now); err != nil {
				return err
			}
		}
		if in.ReportID != "" {
			if _, err := q.ResolveReport(ctx, in.ReportID, "actioned", now); err != nil {
				return err
			}
		}
		if err := q.CountEnforcement(ctx, now.Format("2006-01"), in.Action); err != nil {
			return err
		}
		if err := s.audit(ctx, q, st, auditEntry{Action: rule, Subject: in.UserID, Target: "account " + in.UserID, Note: "decision " + res.DecisionID}); err != nil {
			return err
		}
		var err error
		n, err = s.notify(ctx, q, in.UserID, "moderation", noticeBody{Title: "A moderation decision about your account",
			Body: "Outcome: " + outcome + ". Reason: " + reason + " You can read it under your decisions and appeal it.", Ref: res.DecisionID}, now)
		return err
	})
	if err != nil {
		return ModerationResult{}, s.Internal(ctx, "moderate", err)
	}
	// Their sessions say whether a restriction may be in force, which lets
	// a send skip reading them: every node reads them again.
	s.Invalidate(ctx, kernel.Invalidation{Users: []string{in.UserID}})
	s.Publish(ctx, []string{in.UserID}, noticeFrame(n))
	return res, nil
}

// DismissReport closes a report without action (moderator).
func (s *Service) DismissReport(ctx context.Context, a kernel.Auth, id string) (Report, error) {
	st, err := s.staff(ctx, a, PermModeration)
	if err != nil {
		return Report{}, err
	}
	rec, err := s.DB.Read().FindReport(ctx, id)
	if err != nil {
		return Report{}, tkesj.ErrNotFound("report")
	}
	now := s.Now()
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		ok, err := q.ResolveReport(ctx, id, "dismissed", now)
		if err != nil {
			return err
		}
		if !ok {
			return tkesj.Errorf(tkesj.EConflict, "invalid_transition", "the report is already %s", rec.Status)
		}
		return s.audit(ctx, q, st, auditEntry{Action: "report:dismiss", Target: "report " + id})
	})
	if err != nil {
		return Report{}, s.Internal(ctx, "dismiss report", err)
	}
	rec.Status, rec.ResolvedAt = "dismissed", now
	return reportView(rec), nil
}

// EnforcementMonth is one month of the public enforcement page.
type EnforcementMonth struct {
	Month  string
	Counts map[string]int64
}

// Enforcement is the public enforcement page: how many reports came in and
// how many actions of each kind were taken, per month. No personal data.
func (s *Service) Enforcement(ctx context.Context) ([]EnforcementMonth, map[string]int64, error) {
	cs, err := s.DB.Read().EnforcementCounts(ctx)
	if err != nil {
		return nil, nil, s.Internal(ctx, "enforcement", err)
	}
	totals := map[string]int64{"reports_received": 0, "warn": 0, "restrict": 0, "ban": 0, "lift": 0}
	var months []EnforcementMonth
	for _, c := range cs {
		if len(months) == 0 || months[len(months)-1].Month != c.Month {
			months = append(months, EnforcementMonth{Month: c.Month, Counts: map[string]int64{}})
		}
		months[len(months)-1].Counts[c.Action] = c.N
		totals[c.Action] += c.N
	}
	return months, totals, nil
}
