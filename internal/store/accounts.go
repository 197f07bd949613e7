package store

import (
	"context"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
)

// UserRecord is a user row. Profile is sealed with the user's data key; the
// _idx fields are keyed hashes, so the row holds no plaintext personal data.
type UserRecord struct {
	ID           string
	UsernameIdx  []byte
	PhoneIdx     []byte
	Profile      []byte
	PasswordHash string
	Status       string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// DeviceRecord is a device row; Sealed holds the tkesj.Device fields.
type DeviceRecord struct {
	UserID     string
	DeviceIdx  []byte
	Sealed     []byte
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// SessionRecord is a session row; the token itself is never stored.
// FindSession also fills the account's status and policy acceptance, which
// every authenticated request needs.
type SessionRecord struct {
	TokenHash        []byte
	UserID           string
	DeviceIdx        []byte
	CreatedAt        time.Time
	LastSeenAt       time.Time
	UserStatus       string
	PolicyAcceptedAt time.Time
	// MaybeRestricted: the account has moderation restrictions not lifted
	// (in force or expired); false means none is in force, so a caller
	// need not read ActiveRestrictions (issue 17: one read less a send).
	MaybeRestricted bool
}

// CodeRecord is an outstanding one-time code, stored as a keyed MAC.
type CodeRecord struct {
	PhoneIdx  []byte
	Purpose   string
	CodeMAC   []byte
	Attempts  int
	ExpiresAt time.Time
	CreatedAt time.Time
}

// CreateUser inserts a user. A taken phone or username is a conflict with code
// phone_taken or username_taken.
func (q *Queries) CreateUser(ctx context.Context, u UserRecord) error {
	_, err := q.exec(ctx, `INSERT INTO users (id, username_idx, phone_idx, profile, password_hash, status, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.UsernameIdx, u.PhoneIdx, u.Profile, u.PasswordHash, u.Status, micros(u.CreatedAt), micros(u.UpdatedAt))
	return q.userConflict(err)
}

func (q *Queries) userConflict(err error) error {
	if err == nil || !q.d.IsUnique(err) {
		return err
	}
	if strings.Contains(err.Error(), "phone_idx") {
		return tkesj.Errorf(tkesj.EConflict, "phone_taken", "this phone number already has an account; log in instead")
	}
	if strings.Contains(err.Error(), "username_idx") {
		return tkesj.Errorf(tkesj.EConflict, "username_taken", "this username is taken; choose another")
	}
	return tkesj.Errorf(tkesj.EConflict, "conflict", "this conflicts with an existing record")
}

const userCols = `id, username_idx, phone_idx, profile, password_hash, status, created_at, updated_at`

func scanUser(sc interface{ Scan(...any) error }) (UserRecord, error) {
	var u UserRecord
	var created, updated int64
	err := sc.Scan(&u.ID, &u.UsernameIdx, &u.PhoneIdx, &u.Profile, &u.PasswordHash, &u.Status, &created, &updated)
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	return u, err
}

// FindUserByID returns the user, or not_found.
func (q *Queries) FindUserByID(ctx context.Context, id string) (UserRecord, error) {
	u, err := scanUser(q.row(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, notFound(err, "user")
}

// FindUserByPhoneIdx returns the user with that phone index, or not_found.
func (q *Queries) FindUserByPhoneIdx(ctx context.Context, idx []byte) (UserRecord, error) {
	u, err := scanUser(q.row(ctx, `SELECT `+userCols+` FROM users WHERE phone_idx = ?`, idx))
	return u, notFound(err, "user")
}

// FindUserByUsernameIdx returns the user with that username index, or not_found.
func (q *Queries) FindUserByUsernameIdx(ctx context.Context, idx []byte) (UserRecord, error) {
	u, err := scanUser(q.row(ctx, `SELECT `+userCols+` FROM users WHERE username_idx = ?`, idx))
	return u, notFound(err, "user")
}

// UpdateUserProfile replaces the sealed profile and, when usernameIdx is not
// nil, the username index (username_taken on conflict).
func (q *Queries) UpdateUserProfile(ctx context.Context, id string, usernameIdx, profile []byte, at time.Time) error {
	var err error
	if usernameIdx != nil {
		_, err = q.exec(ctx, `UPDATE users SET username_idx = ?, profile = ?, updated_at = ? WHERE id = ?`, usernameIdx, profile, micros(at), id)
	} else {
		_, err = q.exec(ctx, `UPDATE users SET profile = ?, updated_at = ? WHERE id = ?`, profile, micros(at), id)
	}
	return q.userConflict(err)
}

// UpdateUserPhone moves an account to another phone: its index and the
// sealed profile holding the number, together (phone_taken on conflict).
func (q *Queries) UpdateUserPhone(ctx context.Context, id string, phoneIdx, profile []byte, at time.Time) error {
	_, err := q.exec(ctx, `UPDATE users SET phone_idx = ?, profile = ?, updated_at = ? WHERE id = ?`, phoneIdx, profile, micros(at), id)
	return q.userConflict(err)
}

// UpdatePassword replaces a password hash.
func (q *Queries) UpdatePassword(ctx context.Context, id, hash string, at time.Time) error {
	_, err := q.exec(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, hash, micros(at), id)
	return err
}

// SetUserStatus changes what an account may do.
func (q *Queries) SetUserStatus(ctx context.Context, id, status string, at time.Time) error {
	_, err := q.exec(ctx, `UPDATE users SET status = ?, updated_at = ? WHERE id = ?`, status, micros(at), id)
	return err
}

// DeleteUser removes a user row; devices, sessions and consents go with it
// (ON DELETE CASCADE). It reports whether a row was there.
func (q *Queries) DeleteUser(ctx context.Context, id string) (bool, error) {
	res, err := q.exec(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// UpsertDevice records a device or refreshes its sealed fields and last use.
func (q *Queries) UpsertDevice(ctx context.Context, d DeviceRecord) error {
	// Each login stores a fresh login IP: its age restarts and it is whole again.
	_, err := q.exec(ctx, `INSERT INTO devices (user_id, device_idx, sealed, created_at, last_seen_at, logged_in_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, device_idx) DO UPDATE SET sealed = excluded.sealed, last_seen_at = excluded.last_seen_at,
		logged_in_at = excluded.logged_in_at, ip_truncated = 0`,
		d.UserID, d.DeviceIdx, d.Sealed, micros(d.CreatedAt), micros(d.LastSeenAt), micros(d.LastSeenAt))
	return err
}

// Devices lists a user's devices, most recently used first.
func (q *Queries) Devices(ctx context.Context, userID string) ([]DeviceRecord, error) {
	return q.devices(ctx, `SELECT user_id, device_idx, sealed, created_at, last_seen_at FROM devices WHERE user_id = ? ORDER BY last_seen_at DESC`, userID)
}

func (q *Queries) devices(ctx context.Context, query string, args ...any) ([]DeviceRecord, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeviceRecord
	for rows.Next() {
		var d DeviceRecord
		var c, l int64
		if err := rows.Scan(&d.UserID, &d.DeviceIdx, &d.Sealed, &c, &l); err != nil {
			return nil, err
		}
		d.CreatedAt, d.LastSeenAt = fromMicros(c), fromMicros(l)
		out = append(out, d)
	}
	return out, rows.Err()
}

// DeleteDevice removes a device and, by cascade, every session on it. It
// reports whether the device existed.
func (q *Queries) DeleteDevice(ctx context.Context, userID string, deviceIdx []byte) (bool, error) {
	res, err := q.exec(ctx, `DELETE FROM devices WHERE user_id = ? AND device_idx = ?`, userID, deviceIdx)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// CreateSession stores a session (its device row must exist).
func (q *Queries) CreateSession(ctx context.Context, s SessionRecord) error {
	_, err := q.exec(ctx, `INSERT INTO sessions (token_hash, user_id, device_idx, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?)`,
		s.TokenHash, s.UserID, s.DeviceIdx, micros(s.CreatedAt), micros(s.LastSeenAt))
	return err
}

// FindSession returns the session with that token hash, or not_found.
func (q *Queries) FindSession(ctx context.Context, tokenHash []byte) (SessionRecord, error) {
	var s SessionRecord
	var c, l, p int64
	err := q.row(ctx, `SELECT s.token_hash, s.user_id, s.device_idx, s.created_at, s.last_seen_at, u.status, u.policy_accepted_at,
		EXISTS (SELECT 1 FROM restrictions r WHERE r.user_id = s.user_id AND r.lifted_at = 0)
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, tokenHash).
		Scan(&s.TokenHash, &s.UserID, &s.DeviceIdx, &c, &l, &s.UserStatus, &p, &s.MaybeRestricted)
	s.CreatedAt, s.LastSeenAt, s.PolicyAcceptedAt = fromMicros(c), fromMicros(l), fromMicros(p)
	return s, notFound(err, "session")
}

// TouchSession records that a session (and its device) was used at at;
// ErrNotFound when the session has ended (a node's cached copy outlived it).
func (q *Queries) TouchSession(ctx context.Context, s SessionRecord, at time.Time) error {
	res, err := q.exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?`, micros(at), s.TokenHash)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return tkesj.ErrNotFound("session") // ended meanwhile
	}
	_, err = q.exec(ctx, `UPDATE devices SET last_seen_at = ? WHERE user_id = ? AND device_idx = ?`, micros(at), s.UserID, s.DeviceIdx)
	return err
}

// DeleteSession removes one session.
func (q *Queries) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := q.exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	return err
}

// PutCode stores a one-time code, replacing an earlier one for the same phone
// and purpose.
func (q *Queries) PutCode(ctx context.Context, c CodeRecord) error {
	_, err := q.exec(ctx, `INSERT INTO codes (phone_idx, purpose, code_mac, attempts, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (phone_idx, purpose) DO UPDATE SET code_mac = excluded.code_mac, attempts = excluded.attempts,
		expires_at = excluded.expires_at, created_at = excluded.created_at`,
		c.PhoneIdx, c.Purpose, c.CodeMAC, c.Attempts, micros(c.ExpiresAt), micros(c.CreatedAt))
	return err
}

// FindCode returns the outstanding code for phone and purpose, or not_found.
func (q *Queries) FindCode(ctx context.Context, phoneIdx []byte, purpose string) (CodeRecord, error) {
	var c CodeRecord
	var e, cr int64
	err := q.row(ctx, `SELECT phone_idx, purpose, code_mac, attempts, expires_at, created_at FROM codes WHERE phone_idx = ? AND purpose = ?`, phoneIdx, purpose).
		Scan(&c.PhoneIdx, &c.Purpose, &c.CodeMAC, &c.Attempts, &e, &cr)
	c.ExpiresAt, c.CreatedAt = fromMicros(e), fromMicros(cr)
	return c, notFound(err, "code")
}

// CountCodeAttempt adds a wrong try to a code.
func (q *Queries) CountCodeAttempt(ctx context.Context, phoneIdx []byte, purpose string) error {
	_, err := q.exec(ctx, `UPDATE codes SET attempts = attempts + 1 WHERE phone_idx = ? AND purpose = ?`, phoneIdx, purpose)
	return err
}

// DeleteCode burns a code.
func (q *Queries) DeleteCode(ctx context.Context, phoneIdx []byte, purpose string) error {
	_, err := q.exec(ctx, `DELETE FROM codes WHERE phone_idx = ? AND purpose = ?`, phoneIdx, purpose)
	return err
}

// BurnCode marks a code used (purpose becomes purpose+"_used", kept until
// it expires) and reports whether it was still unused. The used row lets a
// second registration that raced with the first, holding the same right
// code, learn that the phone is taken, and nobody else.
func (q *Queries) BurnCode(ctx context.Context, phoneIdx []byte, purpose string) (bool, error) {
	// The earlier used code makes way only for a fresh one: a burn that
	// finds nothing to burn must leave the winner's used row in place.
	if _, err := q.exec(ctx, `DELETE FROM codes WHERE phone_idx = ? AND purpose = ?
		AND EXISTS (SELECT 1 FROM codes c WHERE c.phone_idx = ? AND c.purpose = ?)`, phoneIdx, purpose+"_used", phoneIdx, purpose); err != nil {
		return false, err
	}
	res, err := q.exec(ctx, `UPDATE codes SET purpose = ? WHERE phone_idx = ? AND purpose = ?`, purpose+"_used", phoneIdx, purpose)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// DeleteExpiredCodes removes codes that expired before now (retention, R-SEC-2).
func (q *Queries) DeleteExpiredCodes(ctx context.Context, now time.Time) (int64, error) {
	res, err := q.exec(ctx, `DELETE FROM codes WHERE expires_at < ?`, micros(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SetPolicyAccepted records the publication time of the newest policy a
// person accepted.
func (q *Queries) SetPolicyAccepted(ctx context.Context, userID string, publishedAt time.Time) error {
	_, err := q.exec(ctx, `UPDATE users SET policy_accepted_at = ? WHERE id = ?`, micros(publishedAt), userID)
	return err
}
