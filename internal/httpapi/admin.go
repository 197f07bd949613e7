package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/wire"
)

// The staff API (/api/v1/admin, R-SEC-1), the person's side of it (access
// log, notices), reports and the public enforcement page. Staff sign in as
// anyone does; the service checks their role against its permission table
// before it looks at the input, so a caller without the role gets 403
// forbidden whatever well-formed request they send.

func rfc3339(t time.Time) wire.Time {
	if t.IsZero() {
		return ""
	}
	return wire.Time(t.Format(time.RFC3339))
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
		ps := make([]string, 0, len(perms))
		for _, p := range perms {
			ps = append(ps, string(p))
		}
		if perms == nil {
			ps = nil
		}
		return wire.StaffSelf{UserID: st.UserID, Role: st.Role, Permissions: ps}, err
	})
}

func staffJSON(m service.StaffMember) wire.StaffMember {
	return wire.StaffMember{UserID: m.UserID, Username: m.Username, Role: m.Role, AddedBy: m.AddedBy, AddedAt: rfc3339(m.AddedAt)}
}

func (s *server) handleListStaff() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		ms, err := s.svc.ListStaff(r.Context(), authOf(r))
		out := make([]wire.StaffMember, 0, len(ms))
		for _, m := range ms {
			out = append(out, staffJSON(m))
		}
		return wire.StaffList{Staff: out}, err
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

func restrictionsJSON(rs []service.Restriction) []wire.Restriction {
	out := make([]wire.Restriction, 0, len(rs))
	for _, x := range rs {
		out = append(out, wire.Restriction{Kind: x.Kind, Until: rfc3339(x.Until), DecisionID: x.DecisionID})
	}
	return out
}

func (s *server) handleStaffReadUser() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		u, err := s.svc.StaffReadUser(r.Context(), authOf(r), r.PathValue("id"), r.URL.Query().Get("purpose"))
		if err != nil {
			return nil, err
		}
		devs := make([]wire.StaffDevice, 0, len(u.Devices))
		for _, d := range u.Devices {
			devs = append(devs, wire.StaffDevice{ID: d.ID, Model: d.Model, OS: d.OS, AppVersion: d.AppVersion, Network: d.Network,
				CreatedAt: rfc3339(d.CreatedAt), LastSeenAt: rfc3339(d.LastSeenAt)})
		}
		return wire.StaffUser{ID: u.ID, Username: u.Username, Nickname: u.Nickname, Gender: u.Gender, PhoneMasked: u.PhoneMasked,
			Status: string(u.Status), Minor: u.Minor, CreatedAt: rfc3339(u.CreatedAt), Devices: devs, Restrictions: restrictionsJSON(u.Restrictions)}, nil
	})
}

func (s *server) handleAccessLog() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		es, err := s.svc.AccessLog(r.Context(), authOf(r))
		out := make([]wire.AccessLogEntry, 0, len(es))
		for _, e := range es {
			out = append(out, wire.AccessLogEntry{ID: e.ID, Action: e.Action, What: e.What, StaffRole: e.StaffRole, StaffRef: e.StaffRef, At: rfc3339(e.At),
				Purpose: e.Purpose, Ground: e.Ground, GroundWording: e.GroundWording, Reference: e.Reference, Description: e.Detail})
		}
		return wire.AccessLog{Entries: out}, err
	})
}

func (s *server) handleAudit() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		es, err := s.svc.Audit(r.Context(), authOf(r), q.Get("user_id"), q.Get("purpose"), limit)
		out := make([]wire.AuditEntry, 0, len(es))
		for _, e := range es {
			out = append(out, wire.AuditEntry{ID: e.ID, ActorID: e.ActorID, ActorRole: e.ActorRole, Action: e.Action, SubjectID: e.SubjectID,
				Target: e.Target, Note: e.Note, VisibleToSubject: e.VisibleToSubject, At: rfc3339(e.At), NotificationDeferredUntil: rfc3339(e.DeferredUntil),
				Purpose: e.Purpose, Reference: e.Reference, Description: e.Description})
		}
		return wire.AuditLog{Entries: out}, err
	})
}

func (s *server) handleStaffRightsRequests() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		qs, err := s.svc.StaffOpenRightsRequests(r.Context(), authOf(r))
		out := make([]wire.StaffRightsRequest, 0, len(qs))
		for _, q := range qs {
			j := staffRightsJSON(q)
			j.Details = nil // details only in the audited read
			out = append(out, j)
		}
		return wire.StaffRightsRequestList{Requests: out}, err
	})
}

func (s *server) handleStaffRightsRequest() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		q, userID, err := s.svc.StaffReadRightsRequest(r.Context(), authOf(r), r.PathValue("id"), r.URL.Query().Get("purpose"))
		if err != nil {
			return nil, err
		}
		j := staffRightsJSON(q)
		j.UserID = userID
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
		return wire.LegalProcessing{UserID: e.UserID, Ground: e.Ground, Reference: e.Reference, Description: e.Description,
			NotificationDeferredUntil: rfc3339(e.DeferredUntil), At: rfc3339(e.At)}, err
	})
}

func holdJSON(h service.Hold) wire.Hold {
	return wire.Hold{ID: h.ID, SubjectKind: h.SubjectKind, SubjectID: h.SubjectID, Ground: h.Ground, Reference: h.Reference,
		Status: h.Status, RequestedBy: h.RequestedBy, RequestedAt: rfc3339(h.RequestedAt), ApprovedBy: h.ApprovedBy,
		ApprovedAt: rfc3339(h.ApprovedAt), ReleasedBy: h.ReleasedBy, ReleasedAt: rfc3339(h.ReleasedAt)}
}

func (s *server) handleHolds() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		hs, err := s.svc.Holds(r.Context(), authOf(r))
		out := make([]wire.Hold, 0, len(hs))
		for _, h := range hs {
			out = append(out, holdJSON(h))
		}
		return wire.HoldList{Holds: out}, err
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

func incidentJSON(inc service.Incident) wire.Incident {
	j := wire.Incident{ID: inc.ID, Summary: inc.Summary, Categories: inc.Categories, OccurredAt: rfc3339(inc.OccurredAt),
		RecordedBy: inc.RecordedBy, CreatedAt: rfc3339(inc.CreatedAt)}
	if inc.People != nil {
		people := make([]wire.IncidentPerson, 0, len(inc.People))
		for _, p := range inc.People {
			people = append(people, wire.IncidentPerson{UserID: p.UserID, NotifiedAt: rfc3339(p.NotifiedAt), ReadAt: rfc3339(p.ReadAt)})
		}
		j.People = &people
	}
	return j
}

func (s *server) handleIncidents() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		is, err := s.svc.Incidents(r.Context(), authOf(r))
		out := make([]wire.Incident, 0, len(is))
		for _, inc := range is {
			out = append(out, incidentJSON(inc))
		}
		return wire.IncidentList{Incidents: out}, err
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
		out := make([]wire.Notice, 0, len(ns))
		for _, n := range ns {
			out = append(out, wire.Notice{ID: n.ID, Kind: n.Kind, Title: n.Title, Body: n.Body, Ref: n.Ref,
				CreatedAt: rfc3339(n.CreatedAt), ReadAt: rfc3339(n.ReadAt)})
		}
		return wire.NoticeList{Notices: out}, err
	})
}

func (s *server) handleReadNotice() http.Handler {
	return s.handle(204, func(w http.ResponseWriter, r *http.Request) (any, error) {
		return nil, s.svc.MarkNoticeRead(r.Context(), authOf(r), r.PathValue("id"))
	})
}

func reportJSON(rp service.Report) wire.Report {
	j := wire.Report{ID: rp.ID, TargetKind: rp.TargetKind, TargetID: rp.TargetID, Status: rp.Status, CreatedAt: rfc3339(rp.CreatedAt),
		Reason: rp.Reason, Content: rp.Content}
	if rp.ReporterID != "" {
		resolved := rfc3339(rp.ResolvedAt)
		j.ReporterID, j.TargetUserID, j.ResolvedAt = rp.ReporterID, &rp.TargetUserID, &resolved
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
		out := make([]wire.Report, 0, len(rs))
		for _, rp := range rs {
			out = append(out, reportJSON(rp))
		}
		return wire.ReportList{Reports: out}, err
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
		return wire.Moderation{UserID: res.UserID, Action: res.Action, DecisionID: res.DecisionID, Until: rfc3339(res.Until)}, err
	})
}

// handleEnforcement is the public enforcement page: counts only.
func (s *server) handleEnforcement() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		months, totals, err := s.svc.Enforcement(r.Context())
		out := make([]wire.EnforcementMonth, 0, len(months))
		for _, m := range months {
			out = append(out, wire.EnforcementMonth{Month: m.Month, Counts: m.Counts})
		}
		return wire.Enforcement{Months: out, Totals: totals,
			Note: "Moderation actions taken on reports of users, messages and Moments, counted per calendar month (UTC). No personal data is published."}, err
	})
}

func (s *server) handleLegalGrounds() http.Handler {
	return s.handle(200, func(w http.ResponseWriter, r *http.Request) (any, error) {
		out := make([]wire.LegalGround, 0, len(service.LegalGrounds))
		for _, g := range service.LegalGrounds {
			out = append(out, wire.LegalGround{Code: g.Code, Wording: g.Wording})
		}
		return wire.LegalGroundList{Grounds: out}, nil
	})
}
