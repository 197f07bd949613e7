package compliance

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/accounts"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/privacy"
	"github.com/tkesj/tkesj/internal/store"
)

// Staff roles (R-SEC-1). A staff member is an ordinary account with one role;
// they sign in as anyone does and reach /api/v1/admin with their own token.
const (
	RoleSupport        = "support"
	RoleModerator      = "moderator"
	RolePrivacyOfficer = "privacy_officer"
	RoleAdmin          = "admin"
)

// Permission is one thing staff may do. Each staff method of the service
// names the permission it needs and checks it first, before it looks at its
// input, so a caller without it learns nothing but 403 forbidden.
type Permission string

const (
	PermSelf            Permission = "self"             // see one's own role and permissions
	PermUsersRead       Permission = "users.read"       // a person's profile and devices (audited, with a purpose)
	PermModeration      Permission = "moderation"       // reports and moderation actions
	PermRightsRequests  Permission = "rights_requests"  // the rights-request queue (details audited)
	PermHolds           Permission = "holds"            // legal holds (two people for each)
	PermIncidents       Permission = "incidents"        // security incidents and their notices
	PermLegalProcessing Permission = "legal_processing" // processing without consent, under a legal ground
	PermStaff           Permission = "staff"            // who is staff, in which role
	PermAudit           Permission = "audit"            // the whole audit log
	PermSharing         Permission = "sharing"          // the recipient registry, sharing records, disclosures
	PermStats           Permission = "stats"            // de-identified statistics
	PermSupport         Permission = "support"          // answering support tickets and complaints
	PermAnnouncements   Permission = "announcements"    // announcements to everyone
)

// rolePermissions is least privilege for staff: the one place that says
// which role may do what. Tests walk every admin route with every role
// against this table.
var rolePermissions = map[string][]Permission{
	RoleSupport:        {PermSelf, PermUsersRead, PermSupport},
	RoleModerator:      {PermSelf, PermModeration},
	RolePrivacyOfficer: {PermSelf, PermRightsRequests, PermHolds, PermIncidents, PermLegalProcessing, PermSharing},
	RoleAdmin: {PermSelf, PermUsersRead, PermModeration, PermRightsRequests, PermHolds, PermIncidents,
		PermLegalProcessing, PermStaff, PermAudit, PermSharing, PermStats, PermSupport, PermAnnouncements},
}

// StaffRoles lists the roles, least powerful first.
func StaffRoles() []string {
	return []string{RoleSupport, RoleModerator, RolePrivacyOfficer, RoleAdmin}
}

// RoleAllows reports whether role has permission p.
func RoleAllows(role string, p Permission) bool { return slices.Contains(rolePermissions[role], p) }

// Staff is a caller the service has checked is staff.
type Staff struct {
	UserID, Role string
}

var errInvalidRole = tkesj.Errorf(tkesj.EInvalid, "invalid_role", "role must be one of %s", strings.Join(StaffRoles(), ", "))

var errForbidden = tkesj.Errorf(tkesj.EForbidden, "forbidden", "your role does not allow this")

// staff checks that the caller is staff with permission p; anyone else,
// ordinary people included, gets 403 forbidden.
func (s *Service) staff(ctx context.Context, a kernel.Auth, p Permission) (Staff, error) {
	rec, err := s.DB.Read().FindStaff(ctx, a.UserID)
	if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		return Staff{}, errForbidden
	} else if err != nil {
		return Staff{}, s.Internal(ctx, "staff", err)
	}
	if !RoleAllows(rec.Role, p) {
		return Staff{}, errForbidden
	}
	return Staff{UserID: rec.UserID, Role: rec.Role}, nil
}

// StaffSelf returns the caller's role and permissions (any staff role).
func (s *Service) StaffSelf(ctx context.Context, a kernel.Auth) (Staff, []Permission, error) {
	st, err := s.staff(ctx, a, PermSelf)
	if err != nil {
		return Staff{}, nil, err
	}
	return st, rolePermissions[st.Role], nil
}

// checkPurpose is the rule for every staff read of personal data: say why,
// in 10 to 500 characters (R-SEC-1).
func checkPurpose(purpose string) (string, error) {
	purpose = strings.TrimSpace(purpose)
	if n := len([]rune(purpose)); n < 10 || n > 500 {
		return "", tkesj.Errorf(tkesj.EInvalid, "purpose_required", "say why you read this person's data (purpose, 10 to 500 characters); it is logged and shown to them")
	}
	return purpose, nil
}

// auditDetails is the sealed part of an audit entry.
type auditDetails struct {
	Purpose     string `json:"purpose,omitempty"`
	Reference   string `json:"reference,omitempty"`
	Description string `json:"description,omitempty"`
}

func auditAD(id string) string { return "audit/" + id }

// auditEntry is what the audit log records of one staff step.
type auditEntry struct {
	Action, Subject, Target, Note string
	Details                       auditDetails
	Visible                       bool      // shown in the subject's access log
	DeferredUntil                 time.Time // notification deferred by law until then
}

// audit appends an entry to the append-only audit log. Callers write it
// before they hand any personal data out, and fail closed when it fails.
func (s *Service) audit(ctx context.Context, q *store.Queries, st Staff, e auditEntry) error {
	id := kernel.NewID("a")
	rec := store.AuditRecord{ID: id, ActorID: st.UserID, ActorRole: st.Role, Action: e.Action, SubjectID: e.Subject, Target: e.Target,
		Note: e.Note, Visible: e.Visible, DeferredUntil: e.DeferredUntil, CreatedAt: s.Now()}
	if e.Subject != "" && e.Details != (auditDetails{}) {
		sealed, err := s.Seal(ctx, e.Subject, auditAD(id), e.Details)
		switch {
		case errors.Is(err, keyring.ErrShredded):
			// A destroyed person: the entry is kept, without details that
			// nobody could ever read.
		case err != nil:
			return err
		default:
			rec.Details = sealed
		}
	}
	return q.AppendAudit(ctx, rec)
}

// auditNow appends one entry in its own transaction.
func (s *Service) auditNow(ctx context.Context, st Staff, e auditEntry) error {
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return s.audit(ctx, q, st, e) }); err != nil {
		return s.Internal(ctx, "audit", err)
	}
	return nil
}

// operator is the actor for steps taken with the tkesj command on the server.
var operator = Staff{UserID: "operator", Role: "operator"}

// StaffMember is a staff member as admins see them.
type StaffMember struct {
	UserID, Username, Role, AddedBy string
	AddedAt                         time.Time
}

// ListStaff lists staff members (admin).
func (s *Service) ListStaff(ctx context.Context, a kernel.Auth) ([]StaffMember, error) {
	if _, err := s.staff(ctx, a, PermStaff); err != nil {
		return nil, err
	}
	recs, err := s.DB.Read().Staff(ctx)
	if err != nil {
		return nil, s.Internal(ctx, "list staff", err)
	}
	out := make([]StaffMember, 0, len(recs))
	for _, r := range recs {
		m := StaffMember{UserID: r.UserID, Role: r.Role, AddedBy: r.AddedBy, AddedAt: r.AddedAt}
		if p, err := s.LookupProfile(ctx, s.DB.Read(), r.UserID); err == nil {
			m.Username = p.Username
		}
		out = append(out, m)
	}
	return out, nil
}

// SetStaffRole gives the person userID a staff role (admin). Admins do not
// change their own role, so the last admin cannot lock everyone out.
func (s *Service) SetStaffRole(ctx context.Context, a kernel.Auth, userID, role string) (StaffMember, error) {
	st, err := s.staff(ctx, a, PermStaff)
	if err != nil {
		return StaffMember{}, err
	}
	if userID == st.UserID {
		return StaffMember{}, tkesj.Errorf(tkesj.EForbidden, "own_role", "another admin must change your role")
	}
	return s.setStaffRole(ctx, st, userID, role)
}

// RemoveStaff takes a person's staff role away (admin); not one's own.
func (s *Service) RemoveStaff(ctx context.Context, a kernel.Auth, userID string) error {
	st, err := s.staff(ctx, a, PermStaff)
	if err != nil {
		return err
	}
	if userID == st.UserID {
		return tkesj.Errorf(tkesj.EForbidden, "own_role", "another admin must change your role")
	}
	return s.removeStaff(ctx, st, userID)
}

// SetStaffRoleByUsername is the operator's `tkesj admin staff add`.
func (s *Service) SetStaffRoleByUsername(ctx context.Context, username, role string) (StaffMember, error) {
	if _, ok := rolePermissions[role]; !ok {
		return StaffMember{}, errInvalidRole
	}
	rec, err := s.DB.Read().FindUserByUsernameIdx(ctx, s.UsernameIdx(strings.ToLower(strings.TrimSpace(username))))
	if err != nil {
		return StaffMember{}, tkesj.ErrNotFound("user")
	}
	return s.setStaffRole(ctx, operator, rec.ID, role)
}

// RemoveStaffByUsername is the operator's `tkesj admin staff remove`.
func (s *Service) RemoveStaffByUsername(ctx context.Context, username string) error {
	rec, err := s.DB.Read().FindUserByUsernameIdx(ctx, s.UsernameIdx(strings.ToLower(strings.TrimSpace(username))))
	if err != nil {
		return tkesj.ErrNotFound("user")
	}
	return s.removeStaff(ctx, operator, rec.ID)
}

func (s *Service) setStaffRole(ctx context.Context, st Staff, userID, role string) (StaffMember, error) {
	if _, ok := rolePermissions[role]; !ok {
		return StaffMember{}, errInvalidRole
	}
	p, err := s.LookupProfile(ctx, s.DB.Read(), userID)
	if err != nil {
		return StaffMember{}, tkesj.ErrNotFound("user")
	}
	now := s.Now()
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.PutStaff(ctx, store.StaffRecord{UserID: userID, Role: role, AddedBy: st.UserID, AddedAt: now}); err != nil {
			return err
		}
		return s.audit(ctx, q, st, auditEntry{Action: "staff:set_role", Subject: userID, Target: "staff " + userID, Note: "role " + role})
	})
	if err != nil {
		return StaffMember{}, s.Internal(ctx, "set staff role", err)
	}
	return StaffMember{UserID: userID, Username: p.Username, Role: role, AddedBy: st.UserID, AddedAt: now}, nil
}

func (s *Service) removeStaff(ctx context.Context, st Staff, userID string) error {
	var found bool
	err := s.DB.Update(ctx, func(q *store.Queries) (err error) {
		if found, err = q.DeleteStaff(ctx, userID); err != nil || !found {
			return err
		}
		return s.audit(ctx, q, st, auditEntry{Action: "staff:remove", Subject: userID, Target: "staff " + userID})
	})
	if err != nil {
		return s.Internal(ctx, "remove staff", err)
	}
	if !found {
		return tkesj.ErrNotFound("staff member")
	}
	return nil
}

// UserRecordView is what support sees of a person: no password, no birth
// date, a masked phone, no login IPs.
type UserRecordView struct {
	ID, Username, Nickname, Gender, PhoneMasked, Status string
	Minor                                               bool
	CreatedAt                                           time.Time
	Devices                                             []tkesj.Device
	Restrictions                                        []kernel.Restriction
}

// StaffReadUser is support's look at a person's profile and devices. The
// purpose is required, and the read is in the audit log and in the person's
// access log before anything is returned.
func (s *Service) StaffReadUser(ctx context.Context, a kernel.Auth, userID, purpose string) (UserRecordView, error) {
	st, err := s.staff(ctx, a, PermUsersRead)
	if err != nil {
		return UserRecordView{}, err
	}
	if purpose, err = checkPurpose(purpose); err != nil {
		return UserRecordView{}, err
	}
	rec, err := s.DB.Read().FindUserByID(ctx, userID)
	if err != nil {
		return UserRecordView{}, tkesj.ErrNotFound("user")
	}
	u, err := s.UserFromRecord(ctx, rec)
	if err != nil {
		return UserRecordView{}, tkesj.ErrNotFound("user")
	}
	if err := s.auditNow(ctx, st, auditEntry{Action: "read:profile_devices", Subject: userID, Target: "profile and devices",
		Details: auditDetails{Purpose: purpose}, Visible: true}); err != nil {
		return UserRecordView{}, err
	}
	minor, _ := s.CheckBirthDate(u.BirthDate)
	v := UserRecordView{ID: u.ID, Username: u.Username, Nickname: u.Nickname, Gender: u.Gender, PhoneMasked: privacy.PhoneForStaff(u.Phone),
		Status: string(u.Status), Minor: minor, CreatedAt: u.CreatedAt, Devices: []tkesj.Device{}}
	devs, err := s.DB.Read().Devices(ctx, userID)
	if err != nil {
		return UserRecordView{}, s.Internal(ctx, "staff read user", err)
	}
	for _, r := range devs {
		var d tkesj.Device
		if s.Open(ctx, userID, accounts.DeviceAD(userID, r.DeviceIdx), r.Sealed, &d) != nil {
			continue
		}
		d.LoginIP, d.CreatedAt, d.LastSeenAt = "", r.CreatedAt, r.LastSeenAt
		v.Devices = append(v.Devices, d)
	}
	if v.Restrictions, err = s.Restrictions(ctx, userID); err != nil {
		return UserRecordView{}, err
	}
	return v, nil
}

// AccessEntry is one line of "who looked at my data and why".
type AccessEntry struct {
	ID, Action, What, StaffRole, StaffRef string
	Purpose, Ground, Reference, Detail    string
	GroundWording                         string // the policy's words for Ground
	At                                    time.Time
}

// staffRef is a stable pseudonym for a staff member that a person can quote
// in a complaint without learning who the staff member is.
func (s *Service) staffRef(actorID string) string {
	if actorID == operator.UserID {
		return "operator"
	}
	return "staff-" + hex.EncodeToString(s.Keys.Index("staff_ref", actorID)[:5])
}

// AccessLog is the caller's "who looked at my data and why" (R-SEC-1,
// R-LEG-1): every staff read of their data with its purpose, and processing
// without consent with its legal ground, except entries whose notification
// the law defers, until the date it ends. Newest first.
func (s *Service) AccessLog(ctx context.Context, a kernel.Auth) ([]AccessEntry, error) {
	recs, err := s.DB.Read().Audit(ctx, store.AuditFilter{SubjectID: a.UserID, VisibleAt: s.Now(), Limit: 500})
	if err != nil {
		return nil, s.Internal(ctx, "access log", err)
	}
	out := make([]AccessEntry, 0, len(recs))
	for _, r := range recs {
		e := AccessEntry{ID: r.ID, Action: r.Action, What: r.Target, StaffRole: r.ActorRole, StaffRef: s.staffRef(r.ActorID), At: r.CreatedAt}
		var d auditDetails
		if r.Details != nil && s.Open(ctx, a.UserID, auditAD(r.ID), r.Details, &d) == nil {
			e.Purpose, e.Reference, e.Detail = d.Purpose, d.Reference, d.Description
		}
		if g, ok := strings.CutPrefix(r.Note, "ground "); ok {
			e.Ground = g
			if lg, err := legalGround(g); err == nil {
				e.GroundWording = lg.Wording
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// AuditEntryView is an audit entry as an admin reads it.
type AuditEntryView struct {
	ID, ActorID, ActorRole, Action, SubjectID, Target, Note string
	Purpose, Reference, Description                         string // empty when the subject's key is destroyed
	VisibleToSubject                                        bool
	DeferredUntil, At                                       time.Time
}

// Audit reads the audit log (admin), newest first, optionally about one
// person. Reading it is itself logged, with its purpose.
func (s *Service) Audit(ctx context.Context, a kernel.Auth, subjectID, purpose string, limit int) ([]AuditEntryView, error) {
	st, err := s.staff(ctx, a, PermAudit)
	if err != nil {
		return nil, err
	}
	if purpose, err = checkPurpose(purpose); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	recs, err := s.DB.Read().Audit(ctx, store.AuditFilter{SubjectID: subjectID, Limit: limit})
	if err != nil {
		return nil, s.Internal(ctx, "audit", err)
	}
	// The read of the log is logged after it, so it does not list itself. A
	// read about one person is theirs to see, with its purpose sealed for them.
	e := auditEntry{Action: "read:audit", Target: "audit log", Note: "purpose: " + clip(purpose, 200)}
	if subjectID != "" {
		e = auditEntry{Action: "read:audit", Subject: subjectID, Target: "audit log entries about you", Details: auditDetails{Purpose: purpose}, Visible: true}
	}
	if err := s.auditNow(ctx, st, e); err != nil {
		return nil, err
	}
	out := make([]AuditEntryView, 0, len(recs))
	for _, r := range recs {
		v := AuditEntryView{ID: r.ID, ActorID: r.ActorID, ActorRole: r.ActorRole, Action: r.Action, SubjectID: r.SubjectID, Target: r.Target,
			Note: r.Note, VisibleToSubject: r.Visible, DeferredUntil: r.DeferredUntil, At: r.CreatedAt}
		var d auditDetails
		if r.Details != nil && s.Open(ctx, r.SubjectID, auditAD(r.ID), r.Details, &d) == nil {
			v.Purpose, v.Reference, v.Description = d.Purpose, d.Reference, d.Description
		}
		out = append(out, v)
	}
	return out, nil
}

func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// StaffOpenRightsRequests is the privacy officer's queue: no details.
func (s *Service) StaffOpenRightsRequests(ctx context.Context, a kernel.Auth) ([]RightsRequest, error) {
	if _, err := s.staff(ctx, a, PermRightsRequests); err != nil {
		return nil, err
	}
	return s.OpenRightsRequests(ctx)
}

// StaffReadRightsRequest reads one request with its details, for a stated
// purpose that is logged and shown to the requester.
func (s *Service) StaffReadRightsRequest(ctx context.Context, a kernel.Auth, id, purpose string) (RightsRequest, string, error) {
	st, err := s.staff(ctx, a, PermRightsRequests)
	if err != nil {
		return RightsRequest{}, "", err
	}
	if purpose, err = checkPurpose(purpose); err != nil {
		return RightsRequest{}, "", err
	}
	rec, err := s.DB.Read().FindRightsRequest(ctx, id)
	if err != nil {
		return RightsRequest{}, "", tkesj.ErrNotFound("rights request")
	}
	if err := s.auditNow(ctx, st, auditEntry{Action: "read:rights_request", Subject: rec.UserID, Target: "rights request " + id,
		Details: auditDetails{Purpose: purpose}, Visible: true}); err != nil {
		return RightsRequest{}, "", err
	}
	return s.rightsView(ctx, rec), rec.UserID, nil
}

// StaffAdvanceRightsRequest moves a request on (AdvanceRightsRequest), logged.
func (s *Service) StaffAdvanceRightsRequest(ctx context.Context, a kernel.Auth, id, status, answer string) (RightsRequest, error) {
	st, err := s.staff(ctx, a, PermRightsRequests)
	if err != nil {
		return RightsRequest{}, err
	}
	rec, err := s.DB.Read().FindRightsRequest(ctx, id)
	if err != nil {
		return RightsRequest{}, tkesj.ErrNotFound("rights request")
	}
	q, err := s.AdvanceRightsRequest(ctx, id, status, answer)
	if err != nil {
		return RightsRequest{}, err
	}
	if err := s.auditNow(ctx, st, auditEntry{Action: "rights:advance", Subject: rec.UserID, Target: "rights request " + id, Note: "status " + status}); err != nil {
		return RightsRequest{}, err
	}
	return q, nil
}
