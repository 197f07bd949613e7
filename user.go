package tkesj

import "time"

// User is a person with an account, as the service layer sees it: plaintext,
// decrypted with the person's data key. The store only ever holds the sealed form.
type User struct {
	ID        string
	Username  string // canonical (lower-case) form
	Nickname  string
	Gender    string // male, female, other, unspecified
	Phone     string // E.164; shown only to the person themself
	AvatarID  string // media id of the avatar, empty when none
	BirthDate string // YYYY-MM-DD, empty when not given
	Status    UserStatus
	CreatedAt time.Time
}

// UserStatus says what an account may do.
type UserStatus string

const (
	UserActive          UserStatus = "active"
	UserPendingGuardian UserStatus = "pending_guardian" // a minor waiting for a guardian's consent (R-MIN-1)
	UserFrozen          UserStatus = "frozen"           // frozen by its owner after a suspected leak (R-SEC-3)
)

// UserUpdate holds the profile fields a person may correct (R-ACC-5); nil means unchanged.
type UserUpdate struct {
	Nickname *string
	Gender   *string
	Username *string
}

// Device is what a client told us about the device a session runs on (R-DEV-1).
// Only fields the client sent are kept; ID is the client's own device id.
type Device struct {
	ID         string
	Model      string
	OS         string
	AppVersion string
	Network    string
	LoginIP    string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// Session is one signed-in device. The token itself is never stored, only its hash.
type Session struct {
	UserID    string
	DeviceID  string
	CreatedAt time.Time
}

// Code purposes for one-time codes.
const (
	PurposeRegister = "register"
	PurposeLogin    = "login"
	PurposeStepUp   = "step_up"
	PurposeReset    = "reset"
	PurposeGuardian = "guardian"
	// PurposeChangePhone codes go to the new number of a signed-in person
	// and are good only for that person (R-ACC-6).
	PurposeChangePhone = "change_phone"
)
