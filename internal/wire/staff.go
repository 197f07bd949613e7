package wire

// StaffSelf is the caller's staff role and what it permits.
type StaffSelf struct {
	UserID      string   `json:"user_id"`
	Role        string   `json:"role"`
	Permissions []string `json:"permissions"`
}

// StaffMember is one member of staff.
type StaffMember struct {
	UserID   string `json:"user_id"`
	Username string `json:"username"`
	Role     string `json:"role"`
	AddedBy  string `json:"added_by"`
	AddedAt  Time   `json:"added_at"`
}

// StaffList is the staff.
type StaffList struct {
	Staff []StaffMember `json:"staff"`
}

// StaffUser is what staff see of a person, read with a purpose.
type StaffUser struct {
	ID           string        `json:"id"`
	Username     string        `json:"username"`
	Nickname     string        `json:"nickname"`
	Gender       string        `json:"gender"`
	PhoneMasked  string        `json:"phone_masked"`
	Status       string        `json:"status"`
	Minor        bool          `json:"minor"`
	CreatedAt    Time          `json:"created_at"`
	Devices      []StaffDevice `json:"devices"`
	Restrictions []Restriction `json:"restrictions"`
}

// StaffDevice is a person's device as staff see it.
type StaffDevice struct {
	ID         string `json:"id"`
	Model      string `json:"model"`
	OS         string `json:"os"`
	AppVersion string `json:"app_version"`
	Network    string `json:"network"`
	CreatedAt  Time   `json:"created_at"`
	LastSeenAt Time   `json:"last_seen_at"`
}

// Restriction is a moderation restriction in force on a person.
type Restriction struct {
	Kind       string `json:"kind"`
	Until      Time   `json:"until"`
	DecisionID string `json:"decision_id"`
}

// AccessLogEntry is one time staff looked at the person's data.
type AccessLogEntry struct {
	ID            string `json:"id"`
	Action        string `json:"action"`
	What          string `json:"what"`
	StaffRole     string `json:"staff_role"`
	StaffRef      string `json:"staff_ref"`
	At            Time   `json:"at"`
	Purpose       string `json:"purpose,omitempty"`
	Ground        string `json:"ground,omitempty"`
	GroundWording string `json:"ground_wording,omitempty"`
	Reference     string `json:"reference,omitempty"`
	Description   string `json:"description,omitempty"`
}

// AccessLog is who looked at the person's data.
type AccessLog struct {
	Entries []AccessLogEntry `json:"entries"`
}

// AuditEntry is one entry of the staff audit log.
type AuditEntry struct {
	ID                        string `json:"id"`
	ActorID                   string `json:"actor_id"`
	ActorRole                 string `json:"actor_role"`
	Action                    string `json:"action"`
	SubjectID                 string `json:"subject_id"`
	Target                    string `json:"target"`
	Note                      string `json:"note"`
	VisibleToSubject          bool   `json:"visible_to_subject"`
	At                        Time   `json:"at"`
	NotificationDeferredUntil Time   `json:"notification_deferred_until,omitzero"`
	Purpose                   string `json:"purpose,omitempty"`
	Reference                 string `json:"reference,omitempty"`
	Description               string `json:"description,omitempty"`
}

// AuditLog is a page of the audit log.
type AuditLog struct {
	Entries []AuditEntry `json:"entries"`
}

// StaffRightsRequest is a rights request as staff see it: without its
// details in the queue, with them and the person's id in the audited read.
type StaffRightsRequest struct {
	ID         string  `json:"id"`
	Kind       string  `json:"kind"`
	Details    *string `json:"details,omitempty" doc:"only in the audited read of one request"`
	Status     string  `json:"status"`
	ReceivedAt string  `json:"received_at"`
	DueAt      string  `json:"due_at"`
	UpdatedAt  string  `json:"updated_at"`
	VerifiedAt string  `json:"verified_at,omitempty"`
	Answer     string  `json:"answer,omitempty"`
	UserID     string  `json:"user_id,omitempty" doc:"only in the audited read of one request"`
}

// StaffRightsRequestList is the open rights requests.
type StaffRightsRequestList struct {
	Requests []StaffRightsRequest `json:"requests"`
}

// LegalProcessing is a recorded processing under a legal ground.
type LegalProcessing struct {
	UserID                    string `json:"user_id"`
	Ground                    string `json:"ground"`
	Reference                 string `json:"reference"`
	Description               string `json:"description"`
	NotificationDeferredUntil Time   `json:"notification_deferred_until"`
	At                        Time   `json:"at"`
}

// Hold is a legal hold (R-LEG-1).
type Hold struct {
	ID          string `json:"id"`
	SubjectKind string `json:"subject_kind"`
	SubjectID   string `json:"subject_id"`
	Ground      string `json:"ground"`
	Reference   string `json:"reference"`
	Status      string `json:"status"`
	RequestedBy string `json:"requested_by"`
	RequestedAt Time   `json:"requested_at"`
	ApprovedBy  string `json:"approved_by"`
	ApprovedAt  Time   `json:"approved_at"`
	ReleasedBy  string `json:"released_by"`
	ReleasedAt  Time   `json:"released_at"`
}

// HoldList is the legal holds.
type HoldList struct {
	Holds []Hold `json:"holds"`
}

// Incident is a recorded security incident.
type Incident struct {
	ID         string            `json:"id"`
	Summary    string            `json:"summary"`
	Categories []string          `json:"categories"`
	OccurredAt Time              `json:"occurred_at"`
	RecordedBy string            `json:"recorded_by"`
	CreatedAt  Time              `json:"created_at"`
	People     *[]IncidentPerson `json:"people,omitempty" doc:"in the read of one incident"`
}

// IncidentPerson is a person an incident touched, and whether they were told.
type IncidentPerson struct {
	UserID     string `json:"user_id"`
	NotifiedAt Time   `json:"notified_at"`
	ReadAt     Time   `json:"read_at"`
}

// IncidentList is the incidents.
type IncidentList struct {
	Incidents []Incident `json:"incidents"`
}

// Notice is a notice in the person's inbox.
type Notice struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Title     string `json:"title"`
	Body      string `json:"body"`
	Ref       string `json:"ref"`
	CreatedAt Time   `json:"created_at"`
	ReadAt    Time   `json:"read_at"`
}

// NoticeList is the person's notices.
type NoticeList struct {
	Notices []Notice `json:"notices"`
}

// Report is a report of a user, message or Moment.
type Report struct {
	ID           string  `json:"id"`
	TargetKind   string  `json:"target_kind"`
	TargetID     string  `json:"target_id"`
	Status       string  `json:"status"`
	CreatedAt    Time    `json:"created_at"`
	ReporterID   string  `json:"reporter_id,omitempty" doc:"staff views only, with target_user_id and resolved_at"`
	TargetUserID *string `json:"target_user_id,omitempty"`
	ResolvedAt   *Time   `json:"resolved_at,omitempty"`
	Reason       string  `json:"reason,omitempty"`
	Content      string  `json:"content,omitempty"`
}

// ReportList is the reports.
type ReportList struct {
	Reports []Report `json:"reports"`
}

// Moderation is a moderation action taken.
type Moderation struct {
	UserID     string `json:"user_id"`
	Action     string `json:"action"`
	DecisionID string `json:"decision_id"`
	Until      Time   `json:"until"`
}

// Enforcement is the public count of moderation actions.
type Enforcement struct {
	Months []EnforcementMonth `json:"months"`
	Totals map[string]int64   `json:"totals"`
	Note   string             `json:"note"`
}

// EnforcementMonth is one calendar month's moderation counts.
type EnforcementMonth struct {
	Month  string           `json:"month"`
	Counts map[string]int64 `json:"counts"`
}

// LegalGroundList is the legal grounds staff may cite.
type LegalGroundList struct {
	Grounds []LegalGround `json:"grounds"`
}

// LegalGround is one legal ground and its wording.
type LegalGround struct {
	Code    string `json:"code"`
	Wording string `json:"wording"`
}

// Announcement is an announcement to everyone (R-OPS-2).
type Announcement struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Title string `json:"title"`
	Body  string `json:"body"`
	At    Time   `json:"at"`
}

// AnnouncementList is the announcements inbox.
type AnnouncementList struct {
	Announcements []Announcement `json:"announcements"`
}

// Statistics are de-identified statistics; a count under k is "<k".
type Statistics struct {
	Days              int         `json:"days"`
	K                 int         `json:"k"`
	GeneratedAt       Time        `json:"generated_at"`
	ActiveUsersPerDay []DayCount  `json:"active_users_per_day"`
	MessagesPerKind   []KindCount `json:"messages_per_kind"`
	PostsPerDay       []DayCount  `json:"posts_per_day"`
}

// DayCount is one day's count.
type DayCount struct {
	Day   string `json:"day"`
	Count Count  `json:"count"`
}

// KindCount is one kind's count.
type KindCount struct {
	Kind  string `json:"kind"`
	Count Count  `json:"count"`
}

// Ticket is a support ticket (R-OPS-1).
type Ticket struct {
	ID        string           `json:"id"`
	Kind      string           `json:"kind"`
	Status    string           `json:"status"`
	CreatedAt Time             `json:"created_at"`
	UpdatedAt Time             `json:"updated_at"`
	ClosedAt  Time             `json:"closed_at"`
	Subject   string           `json:"subject,omitempty"`
	UserID    string           `json:"user_id,omitempty" doc:"staff views only"`
	Messages  *[]TicketMessage `json:"messages,omitempty" doc:"in the read of one ticket"`
}

// TicketMessage is one message of a ticket.
type TicketMessage struct {
	ID       string `json:"id"`
	Author   string `json:"author"`
	Body     string `json:"body"`
	At       Time   `json:"at"`
	StaffRef string `json:"staff_ref,omitempty"`
}

// TicketList is tickets.
type TicketList struct {
	Tickets []Ticket `json:"tickets"`
}

// Recipient is a third party personal data may be shared with (R-SHR-1).
type Recipient struct {
	ID                 string          `json:"id"`
	Kind               string          `json:"kind"`
	Name               string          `json:"name"`
	Purpose            string          `json:"purpose"`
	Categories         []string        `json:"categories"`
	Region             string          `json:"region"`
	DeletionURL        *string         `json:"deletion_url,omitempty" doc:"staff views only"`
	DeliveryURL        *string         `json:"delivery_url,omitempty" doc:"staff views only"`
	CreatedAt          Time            `json:"created_at"`
	Secret             string          `json:"secret,omitempty" doc:"only in the answer that added the recipient"`
	CrossBorder        *bool           `json:"cross_border,omitempty" doc:"in the person's sharing report"`
	Consent            *SharingConsent `json:"consent,omitempty" doc:"in the person's sharing report"`
	CrossBorderConsent *SharingConsent `json:"cross_border_consent,omitempty"`
}

// SharingConsent is the person's consent to a recipient.
type SharingConsent struct {
	Granted bool `json:"granted"`
	At      Time `json:"at"`
}

// RecipientList is the recipients.
type RecipientList struct {
	Recipients []Recipient `json:"recipients"`
}

// SharingRecord is one transfer of personal data to a recipient.
type SharingRecord struct {
	ID            string           `json:"id"`
	RecipientID   string           `json:"recipient_id"`
	RecipientName string           `json:"recipient_name"`
	Purpose       string           `json:"purpose"`
	Categories    []string         `json:"categories"`
	Basis         string           `json:"basis"`
	Status        string           `json:"status"`
	At            Time             `json:"at"`
	Reference     string           `json:"reference,omitempty"`
	Refusal       string           `json:"refusal,omitempty"`
	UserID        string           `json:"user_id,omitempty"`
	Deletion      *SharingDeletion `json:"deletion,omitempty"`
}

// SharingDeletion is the deletion asked of a recipient for a transfer.
type SharingDeletion struct {
	Reason      string `json:"reason"`
	RequestedAt Time   `json:"requested_at"`
	NotifiedAt  Time   `json:"notified_at"`
	AckedAt     Time   `json:"acked_at"`
	Attempts    int    `json:"attempts"`
}

// SharingRecordList is transfers.
type SharingRecordList struct {
	Records []SharingRecord `json:"records"`
}

// SharingReport is what the person's data was shared with and when.
type SharingReport struct {
	Region     string          `json:"region"`
	Recipients []Recipient     `json:"recipients"`
	Records    []SharingRecord `json:"records"`
}

// ConsentChange is the consent ledger entry a change made.
type ConsentChange struct {
	Kind          string `json:"kind"`
	Subject       string `json:"subject"`
	Granted       bool   `json:"granted"`
	Purpose       string `json:"purpose"`
	PolicyVersion string `json:"policy_version"`
	Method        string `json:"method"`
	At            Time   `json:"at"`
}

// Transfers counts the transfers a deletion request went to.
type Transfers struct {
	Transfers int64 `json:"transfers"`
}

// ShareLink is a public link to a Moment.
type ShareLink struct {
	URL    string `json:"url"`
	Notice string `json:"notice"`
}
