package store

import (
	"context"
	"strings"
	"time"
)

// StaffRecord is a staff member: an ordinary account with one role (R-SEC-1).
type StaffRecord struct {
	UserID, Role, AddedBy string
	AddedAt               time.Time
}

// PutStaff gives a person a staff role, replacing any role they had.
func (q *Queries) PutStaff(ctx context.Context, r StaffRecord) error {
	_, err := q.exec(ctx, `INSERT INTO staff (user_id, role, added_by, added_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET role = excluded.role, added_by = excluded.added_by, added_at = excluded.added_at`,
		r.UserID, r.Role, r.AddedBy, micros(r.AddedAt))
	return err
}

// DeleteStaff takes a person's staff role away and reports whether they had one.
func (q *Queries) DeleteStaff(ctx context.Context, userID string) (bool, error) {
	res, err := q.exec(ctx, `DELETE FROM staff WHERE user_id = ?`, userID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// FindStaff returns a person's staff record, or not_found.
func (q *Queries) FindStaff(ctx context.Context, userID string) (StaffRecord, error) {
	var r StaffRecord
	var at int64
	err := q.row(ctx, `SELECT user_id, role, added_by, added_at FROM staff WHERE user_id = ?`, userID).Scan(&r.UserID, &r.Role, &r.AddedBy, &at)
	r.AddedAt = fromMicros(at)
	return r, notFound(err, "staff member")
}

// Staff lists every staff member.
func (q *Queries) Staff(ctx context.Context) ([]StaffRecord, error) {
	rows, err := q.query(ctx, `SELECT user_id, role, added_by, added_at FROM staff ORDER BY added_at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StaffRecord
	for rows.Next() {
		var r StaffRecord
		var at int64
		if err := rows.Scan(&r.UserID, &r.Role, &r.AddedBy, &at); err != nil {
			return nil, err
		}
		r.AddedAt = fromMicros(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// AuditRecord is one entry of the append-only audit log. Details are sealed
// with the subject's key; Note holds only words that are not personal.
// Visible entries appear in the subject's access log, from DeferredUntil on.
type AuditRecord struct {
	ID, ActorID, ActorRole, Action, SubjectID, Target, Note string
	Details                                                 []byte
	Visible                                                 bool
	DeferredUntil                                           time.Time // zero: not deferred
	CreatedAt                                               time.Time
}

// AppendAudit adds an entry; the table refuses updates and deletes.
func (q *Queries) AppendAudit(ctx context.Context, r AuditRecord) error {
	var deferred int64
	if !r.DeferredUntil.IsZero() {
		deferred = micros(r.DeferredUntil)
	}
	vis := 0
	if r.Visible {
		vis = 1
	}
	_, err := q.exec(ctx, `INSERT INTO audit_log (id, actor_id, actor_role, action, subject_id, target, note, details, visible, deferred_until, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.ActorID, r.ActorRole, r.Action, r.SubjectID, r.Target, r.Note, r.Details, vis, deferred, micros(r.CreatedAt))
	return err
}

const auditCols = `id, actor_id, actor_role, action, subject_id, target, note, details, visible, deferred_until, created_at`

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	SubjectID string    // only entries about this person; "" for all
	VisibleAt time.Time // non-zero: only entries the subject may see at this time
	ActorID   string    // only entries by this staff member; "" for all
	Limit     int
}

// Audit lists audit entries, newest first.
func (q *Queries) Audit(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	var where []string
	var args []any
	if f.SubjectID != "" {
		where, args = append(where, "subject_id = ?"), append(args, f.SubjectID)
	}
	if !f.VisibleAt.IsZero() {
		where, args = append(where, "visible = 1 AND deferred_until <= ?"), append(args, micros(f.VisibleAt))
	}
	if f.ActorID != "" {
		where, args = append(where, "actor_id = ?"), append(args, f.ActorID)
	}
	query := `SELECT ` + auditCols + ` FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	rows, err := q.query(ctx, query, append(args, f.Limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		var r AuditRecord
		var vis int
		var deferred, at int64
		if err := rows.Scan(&r.ID, &r.ActorID, &r.ActorRole, &r.Action, &r.SubjectID, &r.Target, &r.Note, &r.Details, &vis, &deferred, &at); err != nil {
			return nil, err
		}
		r.Visible, r.CreatedAt = vis == 1, fromMicros(at)
		if deferred != 0 {
			r.DeferredUntil = fromMicros(deferred)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// NoticeRecord is a notice to one person; Body is sealed with their key.
type NoticeRecord struct {
	ID, UserID, Kind string
	Body             []byte
	CreatedAt        time.Time
	ReadAt           time.Time // zero while unread
}

// CreateNotice stores a notice.
func (q *Queries) CreateNotice(ctx context.Context, n NoticeRecord) error {
	_, err := q.exec(ctx, `INSERT INTO notices (id, user_id, kind, body, created_at) VALUES (?, ?, ?, ?, ?)`,
		n.ID, n.UserID, n.Kind, n.Body, micros(n.CreatedAt))
	return err
}

// Notices lists a person's notices, newest first.
func (q *Queries) Notices(ctx context.Context, userID string, limit int) ([]NoticeRecord, error) {
	rows, err := q.query(ctx, `SELECT id, user_id, kind, body, created_at, COALESCE(read_at, 0) FROM notices WHERE user_id = ? ORDER BY created_at DESC LIMIT ?`, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []NoticeRecord
	for rows.Next() {
		var n NoticeRecord
		var at, read int64
		if err := rows.Scan(&n.ID, &n.UserID, &n.Kind, &n.Body, &at, &read); err != nil {
			return nil, err
		}
		n.CreatedAt = fromMicros(at)
		if read != 0 {
			n.ReadAt = fromMicros(read)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// MarkNoticeRead records that a person read their notice; it reports
// whether the notice is theirs.
func (q *Queries) MarkNoticeRead(ctx context.Context, userID, id string, at time.Time) (bool, error) {
	res, err := q.exec(ctx, `UPDATE notices SET read_at = COALESCE(read_at, ?) WHERE id = ? AND user_id = ?`, micros(at), id, userID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// NoticeReadAt returns when a notice was read: zero while unread, zero and
// not_found when the notice is gone.
func (q *Queries) NoticeReadAt(ctx context.Context, id string) (time.Time, error) {
	var read int64
	err := q.row(ctx, `SELECT COALESCE(read_at, 0) FROM notices WHERE id = ?`, id).Scan(&read)
	if err != nil || read == 0 {
		return time.Time{}, notFound(err, "notice")
	}
	return fromMicros(read), nil
}

// IncidentRecord is a security incident (R-SEC-4). Summary and categories
// describe what happened, not any one person.
type IncidentRecord struct {
	ID, Summary, RecordedBy string
	Categories              []string
	OccurredAt, CreatedAt   time.Time
}

// IncidentPerson is one affected person and when they were told.
type IncidentPerson struct {
	UserID, NoticeID string
	NotifiedAt       time.Time
}

// CreateIncident stores an incident.
func (q *Queries) CreateIncident(ctx context.Context, r IncidentRecord) error {
	_, err := q.exec(ctx, `INSERT INTO incidents (id, summary, categories, occurred_at, recorded_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ID, r.Summary, strings.Join(r.Categories, ","), micros(r.OccurredAt), r.RecordedBy, micros(r.CreatedAt))
	return err
}

// AddIncidentPerson records that a person was affected and notified.
func (q *Queries) AddIncidentPerson(ctx context.Context, incidentID string, p IncidentPerson) error {
	_, err := q.exec(ctx, `INSERT INTO incident_people (incident_id, user_id, notice_id, notified_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (incident_id, user_id) DO NOTHING`, incidentID, p.UserID, p.NoticeID, micros(p.NotifiedAt))
	return err
}

func scanIncident(sc interface{ Scan(...any) error }) (IncidentRecord, error) {
	var r IncidentRecord
	var cats string
	var occ, at int64
	err := sc.Scan(&r.ID, &r.Summary, &cats, &occ, &r.RecordedBy, &at)
	r.Categories, r.OccurredAt, r.CreatedAt = strings.Split(cats, ","), fromMicros(occ), fromMicros(at)
	return r, err
}

// FindIncident returns an incident and its people, or not_found.
func (q *Queries) FindIncident(ctx context.Context, id string) (IncidentRecord, []IncidentPerson, error) {
	r, err := scanIncident(q.row(ctx, `SELECT id, summary, categories, occurred_at, recorded_by, created_at FROM incidents WHERE id = ?`, id))
	if err != nil {
		return r, nil, notFound(err, "incident")
	}
	rows, err := q.query(ctx, `SELECT user_id, notice_id, notified_at FROM incident_people WHERE incident_id = ? ORDER BY notified_at, user_id`, id)
	if err != nil {
		return r, nil, err
	}
	defer rows.Close()
	var people []IncidentPerson
	for rows.Next() {
		var p IncidentPerson
		var at int64
		if err := rows.Scan(&p.UserID, &p.NoticeID, &at); err != nil {
			return r, nil, err
		}
		p.NotifiedAt = fromMicros(at)
		people = append(people, p)
	}
	return r, people, rows.Err()
}

// Incidents lists incidents, newest first.
func (q *Queries) Incidents(ctx context.Context, limit int) ([]IncidentRecord, error) {
	rows, err := q.query(ctx, `SELECT id, summary, categories, occurred_at, recorded_by, created_at FROM incidents ORDER BY created_at DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []IncidentRecord
	for rows.Next() {
		r, err := scanIncident(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// HoldRecord is a legal hold on a person or a conversation (R-LEG-1).
type HoldRecord struct {
	ID, SubjectKind, SubjectID, Ground, Reference, Status string // status: pending, active, released
	RequestedBy, ApprovedBy, ReleasedBy                   string
	RequestedAt, ApprovedAt, ReleasedAt                   time.Time
}

const holdCols = `id, subject_kind, subject_id, ground, reference, status, requested_by, requested_at, approved_by, approved_at, released_by, released_at`

func scanHold(sc interface{ Scan(...any) error }) (HoldRecord, error) {
	var h HoldRecord
	var req, app, rel int64
	err := sc.Scan(&h.ID, &h.SubjectKind, &h.SubjectID, &h.Ground, &h.Reference, &h.Status, &h.RequestedBy, &req, &h.ApprovedBy, &app, &h.ReleasedBy, &rel)
	h.RequestedAt = fromMicros(req)
	if app != 0 {
		h.ApprovedAt = fromMicros(app)
	}
	if rel != 0 {
		h.ReleasedAt = fromMicros(rel)
	}
	return h, err
}

// CreateHold stores a pending hold.
func (q *Queries) CreateHold(ctx context.Context, h HoldRecord) error {
	_, err := q.exec(ctx, `INSERT INTO legal_holds (id, subject_kind, subject_id, ground, reference, status, requested_by, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		h.ID, h.SubjectKind, h.SubjectID, h.Ground, h.Reference, h.Status, h.RequestedBy, micros(h.RequestedAt))
	return err
}

// FindHold returns a hold, or not_found.
func (q *Queries) FindHold(ctx context.Context, id string) (HoldRecord, error) {
	h, err := scanHold(q.row(ctx, `SELECT `+holdCols+` FROM legal_holds WHERE id = ?`, id))
	return h, notFound(err, "hold")
}

// Holds lists holds, newest first.
func (q *Queries) Holds(ctx context.Context, limit int) ([]HoldRecord, error) {
	rows, err := q.query(ctx, `SELECT `+holdCols+` FROM legal_holds ORDER BY requested_at DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []HoldRecord
	for rows.Next() {
		h, err := scanHold(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// ApproveHold activates a pending hold; it reports whether it was pending.
func (q *Queries) ApproveHold(ctx context.Context, id, by string, at time.Time) (bool, error) {
	res, err := q.exec(ctx, `UPDATE legal_holds SET status = 'active', approved_by = ?, approved_at = ? WHERE id = ? AND status = 'pending'`, by, micros(at), id)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// ReleaseHold ends a pending or active hold; it reports whether it was.
func (q *Queries) ReleaseHold(ctx context.Context, id, by string, at time.Time) (bool, error) {
	res, err := q.exec(ctx, `UPDATE legal_holds SET status = 'released', released_by = ?, released_at = ? WHERE id = ? AND status <> 'released'`, by, micros(at), id)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// Held reports whether an active hold covers a destroyed person's leftovers:
// a hold on the person, or on a conversation they wrote in.
func (q *Queries) Held(ctx context.Context, userID string) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM legal_holds h WHERE h.status = 'active' AND (
		(h.subject_kind = 'user' AND h.subject_id = ?) OR
		(h.subject_kind = 'conversation' AND EXISTS (SELECT 1 FROM messages m WHERE m.conv_id = h.subject_id AND m.sender_id = ?)))`,
		userID, userID).Scan(&n)
	return n > 0, err
}

// PurgeQueued reports whether a destroyed person's leftovers await the purge.
func (q *Queries) PurgeQueued(ctx context.Context, userID string) (bool, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM purges WHERE user_id = ?`, userID).Scan(&n)
	return n > 0, err
}

// ReportRecord is a person's report of a user, message or moment. Reason is
// sealed with the reporter's key.
type ReportRecord struct {
	ID, ReporterID, TargetKind, TargetID, TargetUserID, Status string // status: open, actioned, dismissed
	Reason                                                     []byte
	CreatedAt, ResolvedAt                                      time.Time
}

const reportCols = `id, reporter_id, target_kind, target_id, target_user_id, reason, status, created_at, resolved_at`

func scanReport(sc interface{ Scan(...any) error }) (ReportRecord, error) {
	var r ReportRecord
	var at, res int64
	err := sc.Scan(&r.ID, &r.ReporterID, &r.TargetKind, &r.TargetID, &r.TargetUserID, &r.Reason, &r.Status, &at, &res)
	r.CreatedAt = fromMicros(at)
	if res != 0 {
		r.ResolvedAt = fromMicros(res)
	}
	return r, err
}

// CreateReport stores a report.
func (q *Queries) CreateReport(ctx context.Context, r ReportRecord) error {
	_, err := q.exec(ctx, `INSERT INTO reports (id, reporter_id, target_kind, target_id, target_user_id, reason, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.ReporterID, r.TargetKind, r.TargetID, r.TargetUserID, r.Reason, r.Status, micros(r.CreatedAt))
	return err
}

// FindReport returns a report, or not_found.
func (q *Queries) FindReport(ctx context.Context, id string) (ReportRecord, error) {
	r, err := scanReport(q.row(ctx, `SELECT `+reportCols+` FROM reports WHERE id = ?`, id))
	return r, notFound(err, "report")
}

// Reports lists reports with a status ("" for all), oldest first.
func (q *Queries) Reports(ctx context.Context, status string, limit int) ([]ReportRecord, error) {
	query, args := `SELECT `+reportCols+` FROM reports`, []any{}
	if status != "" {
		query, args = query+` WHERE status = ?`, append(args, status)
	}
	rows, err := q.query(ctx, query+` ORDER BY created_at LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReportRecord
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ResolveReport closes an open report with status; it reports whether it was open.
func (q *Queries) ResolveReport(ctx context.Context, id, status string, at time.Time) (bool, error) {
	res, err := q.exec(ctx, `UPDATE reports SET status = ?, resolved_at = ? WHERE id = ? AND status = 'open'`, status, micros(at), id)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// RestrictionRecord limits what a person may do after a moderation decision.
type RestrictionRecord struct {
	ID, UserID, Kind, DecisionID string    // kind: restrict or ban
	Until                        time.Time // zero: no end
	CreatedAt                    time.Time
}

// AddRestriction stores a restriction.
func (q *Queries) AddRestriction(ctx context.Context, r RestrictionRecord) error {
	var until int64
	if !r.Until.IsZero() {
		until = micros(r.Until)
	}
	_, err := q.exec(ctx, `INSERT INTO restrictions (id, user_id, kind, until_at, decision_id, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ID, r.UserID, r.Kind, until, r.DecisionID, micros(r.CreatedAt))
	return err
}

// ActiveRestrictions lists a person's restrictions in force at now.
func (q *Queries) ActiveRestrictions(ctx context.Context, userID string, now time.Time) ([]RestrictionRecord, error) {
	rows, err := q.query(ctx, `SELECT id, user_id, kind, decision_id, until_at, created_at FROM restrictions
		WHERE user_id = ? AND lifted_at = 0 AND (until_at = 0 OR until_at > ?)`, userID, micros(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RestrictionRecord
	for rows.Next() {
		var r RestrictionRecord
		var until, at int64
		if err := rows.Scan(&r.ID, &r.UserID, &r.Kind, &r.DecisionID, &until, &at); err != nil {
			return nil, err
		}
		if until != 0 {
			r.Until = fromMicros(until)
		}
		r.CreatedAt = fromMicros(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// LiftRestrictions ends a person's restrictions and reports how many were in force.
func (q *Queries) LiftRestrictions(ctx context.Context, userID string, at time.Time) (int64, error) {
	res, err := q.exec(ctx, `UPDATE restrictions SET lifted_at = ? WHERE user_id = ? AND lifted_at = 0 AND (until_at = 0 OR until_at > ?)`,
		micros(at), userID, micros(at))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// CountEnforcement adds one to the public count of action in month (YYYY-MM).
func (q *Queries) CountEnforcement(ctx context.Context, month, action string) error {
	_, err := q.exec(ctx, `INSERT INTO enforcement_counts (month, action, n) VALUES (?, ?, 1)
		ON CONFLICT (month, action) DO UPDATE SET n = enforcement_counts.n + 1`, month, action)
	return err
}

// EnforcementCount is one cell of the public enforcement table.
type EnforcementCount struct {
	Month, Action string
	N             int64
}

// EnforcementCounts lists every cell, by month then action.
func (q *Queries) EnforcementCounts(ctx context.Context) ([]EnforcementCount, error) {
	rows, err := q.query(ctx, `SELECT month, action, n FROM enforcement_counts ORDER BY month, action`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EnforcementCount
	for rows.Next() {
		var c EnforcementCount
		if err := rows.Scan(&c.Month, &c.Action, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CountReportsSince counts the reports a person made since since.
func (q *Queries) CountReportsSince(ctx context.Context, reporterID string, since time.Time) (int, error) {
	var n int
	err := q.row(ctx, `SELECT COUNT(*) FROM reports WHERE reporter_id = ? AND created_at > ?`, reporterID, micros(since)).Scan(&n)
	return n, err
}
