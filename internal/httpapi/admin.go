package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
)

// The staff API (/api/v1/admin, R-SEC-1), the person's side of it (access
// log, notices), reports and the public enforcement page. Staff sign in as
// anyone does; the service checks their role against its permission table
// before it looks at the input, so a caller without the role gets 403
// forbidden whatever well-formed request they send.

func rfc3339(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.RFC3339)
}

// optionalTime parses an RFC 3339 time; "" is the zero time.
func optionalTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errorf(tkesj.EInvalid, "invalid_"+field, "%s must be an RFC 3339 time", field)
	}
	return t, nil
}

func (s *server) handleStaffSelf() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		st, perms, err := s.svc.StaffSelf(r.Context(), authOf(r))
		return map[string]any{"user_id": st.UserID, "role": st.Role, "permissions": perms}, err
	})
}

func staffJSON(m service.StaffMember) map[string]any {
	return map[string]any{"user_id": m.UserID, "username": m.Username, "role": m.Role, "added_by": m.AddedBy, "added_at": rfc3339(m.AddedAt)}
}

func (s *server) handleListStaff() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		ms, err := s.svc.ListStaff(r.Context(), authOf(r))
		out := make([]map[string]any, 0, len(ms))
		for _, m := range ms {
			out = append(out, staffJSON(m))
		}
		return map[string]any{"staff": out}, err
	})
}

func (s *server) handleSetStaffRole() http.Handler {
	type request struct {
		Role string `json:"role"`
	}
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		m, err := s.svc.SetStaffRole(r.Context(), authOf(r), r.PathValue("id"), req.Role)
		return staffJSON(m), err
	})
}

func (s *server) handleRemoveStaff() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.RemoveStaff(r.Context(), authOf(r), r.PathValue("id"))
	})
}

func restrictionsJSON(rs []service.Restriction) []map[string]any {
	out := make([]map[string]any, 0, len(rs))
	for _, x := range rs {
		out = append(out, map[string]any{"kind": x.Kind, "until": rfc3339(x.Until), "decision_id": x.DecisionID})
	}
	return out
}

func (s *server) handleStaffReadUser() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		u, err := s.svc.StaffReadUser(r.Context(), authOf(r), r.PathValue("id"), r.URL.Query().Get("purpose"))
		if err != nil {
			return nil, err
		}
		devs := make([]map[string]any, 0, len(u.Devices))
		for _, d := range u.Devices {
			devs = append(devs, map[string]any{"id": d.ID, "model": d.Model, "os": d.OS, "app_version": d.AppVersion, "network": d.Network,
				"created_at": rfc3339(d.CreatedAt), "last_seen_at": rfc3339(d.LastSeenAt)})
		}
		return map[string]any{"id": u.ID, "username": u.Username, "nickname": u.Nickname, "gender": u.Gender, "phone_masked": u.PhoneMasked,
			"status": u.Status, "minor": u.Minor, "created_at": rfc3339(u.CreatedAt), "devices": devs, "restrictions": restrictionsJSON(u.Restrictions)}, nil
	})
}

func (s *server) handleAccessLog() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		es, err := s.svc.AccessLog(r.Context(), authOf(r))
		out := make([]map[string]any, 0, len(es))
		for _, e := range es {
			j := map[string]any{"id": e.ID, "action": e.Action, "what": e.What, "staff_role": e.StaffRole, "staff_ref": e.StaffRef, "at": rfc3339(e.At)}
			for k, v := range map[string]string{"purpose": e.Purpose, "ground": e.Ground, "ground_wording": e.GroundWording, "reference": e.Reference, "description": e.Detail} {
				if v != "" {
					j[k] = v
				}
			}
			out = append(out, j)
		}
		return map[string]any{"entries": out}, err
	})
}

func (s *server) handleAudit() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		es, err := s.svc.Audit(r.Context(), authOf(r), q.Get("user_id"), q.Get("purpose"), limit)
		out := make([]map[string]any, 0, len(es))
		for _, e := range es {
			j := map[string]any{"id": e.ID, "actor_id": e.ActorID, "actor_role": e.ActorRole, "action": e.Action, "subject_id": e.SubjectID,
				"target": e.Target, "note": e.Note, "visible_to_subject": e.VisibleToSubject, "at": rfc3339(e.At)}
			if !e.DeferredUntil.IsZero() {
				j["notification_deferred_until"] = rfc3339(e.DeferredUntil)
			}
			for k, v := range map[string]string{"purpose": e.Purpose, "reference": e.Reference, "description": e.Description} {
				if v != "" {
					j[k] = v
				}
			}
			out = append(out, j)
		}
		return map[string]any{"entries": out}, err
	})
}

func (s *server) handleStaffRightsRequests() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		qs, err := s.svc.StaffOpenRightsRequests(r.Context(), authOf(r))
		out := make([]map[string]any, 0, len(qs))
		for _, q := range qs {
			j := rightsJSON(q)
			delete(j, "details") // details only in the audited read
			out = append(out, j)
		}
		return map[string]any{"requests": out}, err
	})
}

func (s *server) handleStaffRightsRequest() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		q, userID, err := s.svc.StaffReadRightsRequest(r.Context(), authOf(r), r.PathValue("id"), r.URL.Query().Get("purpose"))
		if err != nil {
			return nil, err
		}
		j := rightsJSON(q)
		j["user_id"] = userID
		return j, nil
	})
}

func (s *server) handleStaffAdvanceRightsRequest() http.Handler {
	type request struct {
		Status string `json:"status"`
		Answer string `json:"answer"`
	}
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		q, err := s.svc.StaffAdvanceRightsRequest(r.Context(), authOf(r), r.PathValue("id"), req.Status, req.Answer)
		return rightsJSON(q), err
	})
}

func (s *server) handleLegalProcessing() http.Handler {
	type request struct {
		UserID        string `json:"user_id"`
		Ground        string `json:"ground"`
		Reference     string `json:"reference"`
		Description   string `json:"description"`
		DeferredUntil string `json:"notification_deferred_until"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		until, err := optionalTime("notification_deferred_until", req.DeferredUntil)
		if err != nil {
			return nil, err
		}
		e, err := s.svc.RecordLegalProcessing(r.Context(), authOf(r), service.LegalProcessingInput{UserID: req.UserID, Ground: req.Ground,
			Reference: req.Reference, Description: req.Description, DeferredUntil: until})
		return map[string]any{"user_id": e.UserID, "ground": e.Ground, "reference": e.Reference, "description": e.Description,
			"notification_deferred_until": rfc3339(e.DeferredUntil), "at": rfc3339(e.At)}, err
	})
}

func holdJSON(h service.Hold) map[string]any {
	return map[string]any{"id": h.ID, "subject_kind": h.SubjectKind, "subject_id": h.SubjectID, "ground": h.Ground, "reference": h.Reference,
		"status": h.Status, "requested_by": h.RequestedBy, "requested_at": rfc3339(h.RequestedAt), "approved_by": h.ApprovedBy,
		"approved_at": rfc3339(h.ApprovedAt), "released_by": h.ReleasedBy, "released_at": rfc3339(h.ReleasedAt)}
}

func (s *server) handleHolds() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		hs, err := s.svc.Holds(r.Context(), authOf(r))
		out := make([]map[string]any, 0, len(hs))
		for _, h := range hs {
			out = append(out, holdJSON(h))
		}
		return map[string]any{"holds": out}, err
	})
}

func (s *server) handleCreateHold() http.Handler {
	type request struct {
		SubjectKind string `json:"subject_kind"`
		SubjectID   string `json:"subject_id"`
		Ground      string `json:"ground"`
		Reference   string `json:"reference"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		h, err := s.svc.CreateHold(r.Context(), authOf(r), service.HoldInput{SubjectKind: req.SubjectKind, SubjectID: req.SubjectID, Ground: req.Ground, Reference: req.Reference})
		return holdJSON(h), err
	})
}

func (s *server) handleHoldStep(approve bool) http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var h service.Hold
		var err error
		if approve {
			h, err = s.svc.ApproveHold(r.Context(), authOf(r), r.PathValue("id"))
		} else {
			h, err = s.svc.ReleaseHold(r.Context(), authOf(r), r.PathValue("id"))
		}
		return holdJSON(h), err
	})
}

func incidentJSON(inc service.Incident) map[string]any {
	j := map[string]any{"id": inc.ID, "summary": inc.Summary, "categories": inc.Categories, "occurred_at": rfc3339(inc.OccurredAt),
		"recorded_by": inc.RecordedBy, "created_at": rfc3339(inc.CreatedAt)}
	if inc.People != nil {
		people := make([]map[string]any, 0, len(inc.People))
		for _, p := range inc.People {
			people = append(people, map[string]any{"user_id": p.UserID, "notified_at": rfc3339(p.NotifiedAt), "read_at": rfc3339(p.ReadAt)})
		}
		j["people"] = people
	}
	return j
}

func (s *server) handleIncidents() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		is, err := s.svc.Incidents(r.Context(), authOf(r))
		out := make([]map[string]any, 0, len(is))
		for _, inc := range is {
			out = append(out, incidentJSON(inc))
		}
		return map[string]any{"incidents": out}, err
	})
}

func (s *server) handleRecordIncident() http.Handler {
	type request struct {
		Summary    string   `json:"summary"`
		OccurredAt string   `json:"occurred_at"`
		Categories []string `json:"categories"`
		UserIDs    []string `json:"user_ids"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		at, err := optionalTime("occurred_at", req.OccurredAt)
		if err != nil {
			return nil, err
		}
		inc, err := s.svc.RecordIncident(r.Context(), authOf(r), service.IncidentInput{Summary: req.Summary, OccurredAt: at, Categories: req.Categories, UserIDs: req.UserIDs})
		return incidentJSON(inc), err
	})
}

func (s *server) handleIncident() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		inc, err := s.svc.FindIncident(r.Context(), authOf(r), r.PathValue("id"))
		return incidentJSON(inc), err
	})
}

func (s *server) handleNotices() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		ns, err := s.svc.Notices(r.Context(), authOf(r))
		out := make([]map[string]any, 0, len(ns))
		for _, n := range ns {
			out = append(out, map[string]any{"id": n.ID, "kind": n.Kind, "title": n.Title, "body": n.Body, "ref": n.Ref,
				"created_at": rfc3339(n.CreatedAt), "read_at": rfc3339(n.ReadAt)})
		}
		return map[string]any{"notices": out}, err
	})
}

func (s *server) handleReadNotice() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.MarkNoticeRead(r.Context(), authOf(r), r.PathValue("id"))
	})
}

func reportJSON(rp service.Report) map[string]any {
	j := map[string]any{"id": rp.ID, "target_kind": rp.TargetKind, "target_id": rp.TargetID, "status": rp.Status, "created_at": rfc3339(rp.CreatedAt)}
	if rp.ReporterID != "" {
		j["reporter_id"], j["target_user_id"], j["resolved_at"] = rp.ReporterID, rp.TargetUserID, rfc3339(rp.ResolvedAt)
	}
	if rp.Reason != "" {
		j["reason"] = rp.Reason
	}
	if rp.Content != "" {
		j["content"] = rp.Content
	}
	return j
}

func (s *server) handleCreateReport() http.Handler {
	type request struct {
		TargetKind string `json:"target_kind"`
		TargetID   string `json:"target_id"`
		Reason     string `json:"reason"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		rp, err := s.svc.CreateReport(r.Context(), authOf(r), req.TargetKind, req.TargetID, req.Reason)
		return reportJSON(rp), err
	})
}

func (s *server) handleReports() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		rs, err := s.svc.Reports(r.Context(), authOf(r), r.URL.Query().Get("status"))
		out := make([]map[string]any, 0, len(rs))
		for _, rp := range rs {
			out = append(out, reportJSON(rp))
		}
		return map[string]any{"reports": out}, err
	})
}

func (s *server) handleReport() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		rp, err := s.svc.ReadReport(r.Context(), authOf(r), r.PathValue("id"), r.URL.Query().Get("purpose"))
		return reportJSON(rp), err
	})
}

func (s *server) handleDismissReport() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		rp, err := s.svc.DismissReport(r.Context(), authOf(r), r.PathValue("id"))
		return reportJSON(rp), err
	})
}

func (s *server) handleModerate() http.Handler {
	type request struct {
		UserID   string `json:"user_id"`
		Action   string `json:"action"`
		Reason   string `json:"reason"`
		Days     int    `json:"days"`
		ReportID string `json:"report_id"`
	}
	return s.handle(201, func(w http.ResponseWriter, r *http.Request) (any, error) {
		var req request
		if err := decode(w, r, &req); err != nil {
			return nil, err
		}
		res, err := s.svc.Moderate(r.Context(), authOf(r), service.ModerationInput{UserID: req.UserID, Action: req.Action, Reason: req.Reason,
			Days: req.Days, ReportID: req.ReportID})
		return map[string]any{"user_id": res.UserID, "action": res.Action, "decision_id": res.DecisionID, "until": rfc3339(res.Until)}, err
	})
}

// handleEnforcement is the public enforcement page: counts only.
func (s *server) handleEnforcement() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		months, totals, err := s.svc.Enforcement(r.Context())
		out := make([]map[string]any, 0, len(months))
		for _, m := range months {
			out = append(out, map[string]any{"month": m.Month, "counts": m.Counts})
		}
		return map[string]any{"months": out, "totals": totals,
			"note": "Moderation actions taken on reports of users, messages and Moments, counted per calendar month (UTC). No personal data is published."}, err
	})
}

func (s *server) handleLegalGrounds() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		out := make([]map[string]any, 0, len(service.LegalGrounds))
		for _, g := range service.LegalGrounds {
			out = append(out, map[string]any{"code": g.Code, "wording": g.Wording})
		}
		return map[string]any{"grounds": out}, nil
	})
}
