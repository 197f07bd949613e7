package tkesj

import "time"

// Consent is one append-only entry of the consent ledger (R-CON-1). A withdrawal
// is a new entry with Granted false; entries are never changed or deleted, except
// with the whole account when it is destroyed.
type Consent struct {
	Kind          string // policy, permission, sharing, cross_border, guardian
	Subject       string // the policy version, the permission name, the recipient id, ...
	Granted       bool
	Purpose       string // why it is asked for, in words
	PolicyVersion string // the policy version in force when it was given
	Method        string // how it was given: api, registration, web, ...
	At            time.Time
}

// Consent kinds.
const (
	ConsentPolicy      = "policy"
	ConsentPermission  = "permission"
	ConsentSharing     = "sharing"
	ConsentCrossBorder = "cross_border"
	ConsentGuardian    = "guardian"
)

// Device permissions a client reports (R-PRM-1). They start not granted.
const (
	PermPhoneState = "phone_state"
	PermStorage    = "storage"
	PermAlbum      = "album"
	PermCamera     = "camera"
	PermLocation   = "location"
	PermMicrophone = "microphone"
	// PermNotifications is the browser's (or phone's) permission to show
	// notifications; the web client records it when the person allows them
	// and subscribes to Web Push only then (R-NTF-3).
	PermNotifications = "notifications"
)

// Permissions lists every permission name in the order the policy gives them.
func Permissions() []string {
	return []string{PermPhoneState, PermStorage, PermAlbum, PermCamera, PermLocation, PermMicrophone, PermNotifications}
}

// Policy is one published version of the privacy policy (R-POL-1).
type Policy struct {
	Version     string
	Major       bool
	Text        string
	PublishedAt time.Time
}
