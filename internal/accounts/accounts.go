package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/validate"
)

// profile is the sealed part of a user row.
type profile struct {
	Username  string `json:"username"`
	Phone     string `json:"phone"`
	Nickname  string `json:"nickname"`
	Gender    string `json:"gender"`
	AvatarID  string `json:"avatar_id,omitempty"`
	BirthDate string `json:"birth_date,omitempty"`
}

func ProfileAD(userID string) string { return "users/" + userID + "/profile" }

func DeviceAD(userID string, idx []byte) string {
	return "devices/" + userID + "/" + hex.EncodeToString(idx)
}

func (s *Service) PhoneIdx(phone string) []byte { return s.Keys.Index("phone", phone) }

func (s *Service) UsernameIdx(username string) []byte { return s.Keys.Index("username", username) }

func (s *Service) deviceIdx(userID, deviceID string) []byte {
	return s.Keys.Index("device", userID+"\x00"+deviceID)
}

func (s *Service) codeMAC(phone, purpose, code string) []byte {
	return s.Keys.Index("code", phone+"\x00"+purpose+"\x00"+code)
}

// codeFor is whom a code is for beyond its phone: "" for codes anyone holding
// the phone may use, or the account a change_phone code was asked by (it is
// bound into the code's MAC, so a code asked by one account is wrong for
// every other, and the codes table still holds no account id).
type codeFor string

func (s *Service) boundMAC(phone, purpose string, who codeFor, code string) []byte {
	if who == "" {
		return s.codeMAC(phone, purpose, code)
	}
	return s.codeMAC(phone, purpose+"\x00"+string(who), code)
}

func validPurpose(p string) bool {
	switch p {
	case tkesj.PurposeRegister, tkesj.PurposeLogin, tkesj.PurposeStepUp, tkesj.PurposeReset:
		return true
	}
	return false
}

func RateLimited(wait time.Duration, what string) error {
	secs := int(wait.Seconds() + 0.999)
	if secs < 1 {
		secs = 1
	}
	e := tkesj.Errorf(tkesj.ERateLimited, "rate_limited", "too many %s; try again in %d seconds", what, secs)
	e.RetryAfter = time.Duration(secs) * time.Second
	return e
}

// RequestCode sends a one-time code to phone for purpose (R-ACC-1). It never
// reveals whether the phone has an account (issue 14 item 2): for login,
// step_up and reset to an unknown phone a code is stored but never sent, so
// the cooldown and the limits answer exactly as for a known phone; the code
// is sent after the answer for every purpose but register, so the time taken
// does not tell either.
//
// Limits, counted in the database so every node shares them: codes from one
// address (CodesPerIP an hour), for one phone from one network
// (CodesPerPhone an hour) and for one phone from anywhere (five times that,
// which no single stranger's network can use up for the owner).
func (s *Service) RequestCode(ctx context.Context, rawPhone, purpose, clientIP string) error {
	if !validPurpose(purpose) {
		return tkesj.Errorf(tkesj.EInvalid, "invalid_purpose", "purpose must be one of register, login, step_up, reset (or change_phone, signed in)")
	}
	phone, err := validate.Phone(rawPhone, s.Cfg.PhoneRegion)
	if err != nil {
		return err
	}
	idx := s.PhoneIdx(phone)
	now := s.Now()
	if c, err := s.DB.Read().FindCode(ctx, idx, purpose); err == nil && now.Before(c.ExpiresAt) {
		if wait := c.CreatedAt.Add(s.Cfg.CodeCooldown).Sub(now); wait > 0 {
			return RateLimited(wait, "code requests for this phone")
		}
	}
	if err := s.CodeQuota(ctx, phone, clientIP); err != nil {
		return err
	}
	if purpose == tkesj.PurposeReset {
		// Counted on every node alike, for known and unknown phones alike.
		if err := s.requestResetCode(ctx, phone); err != nil {
			return err
		}
	}
	if purpose != tkesj.PurposeRegister {
		if _, err := s.DB.Read().FindUserByPhoneIdx(ctx, idx); err != nil {
			if tkesj.ErrorKindOf(err) != tkesj.ENotFound {
				return s.Internal(ctx, "request code", err)
			}
			// A code nobody will receive: it takes the same cooldown and
			// limits as a real one, and no code typed can match it.
			if err := s.storeCode(ctx, phone, purpose, "", fmt.Sprintf("x%d", now.UnixNano())); err != nil {
				return s.Internal(ctx, "request code", err)
			}
			return nil
		}
	}
	return s.IssueCode(ctx, phone, purpose, purpose)
}

// CodeQuota counts one code request against the address's, the phone's on
// this network and the phone's overall limits, refusing when one is spent.
// clientIP is empty for a code the signed-in person asks for their own or
// their guardian's phone: only the phone's limits count then.
func (s *Service) CodeQuota(ctx context.Context, phone, clientIP string) error {
	for _, l := range []struct {
		key  string
		max  int
		what string
	}{
		{s.throttleKey("codes-addr", clientIP), s.Cfg.CodesPerIP, "code requests from this network"},
		{s.throttleKey("codes-phone", phone+"\x00"+NetworkOf(clientIP)), s.Cfg.CodesPerPhone, "code requests for this phone"},
		{s.throttleKey("codes-phone", phone), 5 * s.Cfg.CodesPerPhone, "code requests for this phone"},
	} {
		if clientIP == "" && strings.HasPrefix(l.key, "codes-addr:") {
			continue // a code to a phone the person named, not asked from outside
		}
		var n int
		var end time.Time
		err := s.DB.Update(ctx, func(q *store.Queries) (err error) {
			n, end, err = q.HitThrottle(ctx, l.key, s.Now(), time.Hour, false)
			return err
		})
		if err != nil {
			return s.Internal(ctx, "code quota", err)
		}
		if n > l.max {
			return RateLimited(end.Sub(s.Now()), l.what)
		}
	}
	return nil
}

// storeCode stores code for phone and purpose, replacing any earlier one.
func (s *Service) storeCode(ctx context.Context, phone, purpose string, who codeFor, code string) error {
	now := s.Now()
	rec := store.CodeRecord{PhoneIdx: s.PhoneIdx(phone), Purpose: purpose, CodeMAC: s.boundMAC(phone, purpose, who, code), ExpiresAt: now.Add(s.Cfg.CodeTTL), CreatedAt: now}
	return s.DB.Update(ctx, func(q *store.Queries) error { return q.PutCode(ctx, rec) })
}

// IssueCode stores a fresh code for phone under purpose and sends it,
// telling the gateway sendAs as its purpose. Login, step_up and reset codes
// are sent after the answer (kernel.Loops), so that the time taken does not
// tell a registered phone from an unregistered one (issue 14 item 2).
func (s *Service) IssueCode(ctx context.Context, phone, purpose, sendAs string) error {
	return s.issueCode(ctx, phone, purpose, "", sendAs)
}

func (s *Service) issueCode(ctx context.Context, phone, purpose string, who codeFor, sendAs string) error {
	code, err := sixDigits()
	if err != nil {
		return s.Internal(ctx, "issue code", err)
	}
	idx := s.PhoneIdx(phone)
	if err := s.storeCode(ctx, phone, purpose, who, code); err != nil {
		return s.Internal(ctx, "issue code", err)
	}
	send := func(ctx context.Context) error {
		if err := s.Codes.SendCode(ctx, phone, code, sendAs); err != nil {
			s.DB.Update(ctx, func(q *store.Queries) error { return q.DeleteCode(ctx, idx, purpose) })
			s.Log.WarnContext(ctx, "code delivery failed", "purpose", sendAs, "err", err.Error())
			return tkesj.Errorf(tkesj.EUnavailable, "code_delivery_failed", "the code could not be sent just now; try again in a minute")
		}
		return nil
	}
	// change_phone: the caller is signed in and was told already whether
	// the number is taken (R-ACC-6), so its timing hides nothing.
	if purpose == tkesj.PurposeRegister || purpose == tkesj.PurposeGuardian || purpose == tkesj.PurposeChangePhone || sendAs != purpose {
		return send(ctx) // nothing to hide: the caller may learn that delivery failed
	}
	// Sent after the answer; a failure is logged and the code removed, and
	// the person asks again. The send ends with the service (Loops.Stop).
	s.Loops.Go(func(stop context.Context) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		defer context.AfterFunc(stop, cancel)()
		send(ctx)
	})
	return nil
}

func sixDigits() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

var errCodeMismatch = tkesj.Errorf(tkesj.EInvalid, "code_mismatch", "the code is wrong or has expired; request a new one")

// ConsumeCode checks code for phone and purpose and burns it when it matches.
// A wrong try is counted (and committed); the last allowed wrong try burns it.
func (s *Service) ConsumeCode(ctx context.Context, phone, purpose, code string) error {
	return s.checkCode(ctx, phone, purpose, code, true)
}

// checkCode is consumeCode; with burn false a matching code stays, for the
// caller to burn in the transaction that uses it.
func (s *Service) checkCode(ctx context.Context, phone, purpose, code string, burn bool) error {
	return s.checkBoundCode(ctx, phone, purpose, "", code, burn)
}

func (s *Service) checkBoundCode(ctx context.Context, phone, purpose string, who codeFor, code string, burn bool) error {
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return errCodeMismatch
	}
	idx := s.PhoneIdx(phone)
	mismatch := false
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		c, err := q.FindCode(ctx, idx, purpose)
		if err != nil {
			if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
				mismatch = true
				return nil
			}
			return err
		}
		if !s.Now().Before(c.ExpiresAt) || c.Attempts >= s.Cfg.CodeMaxAttempts {
			mismatch = true
			return q.DeleteCode(ctx, idx, purpose)
		}
		if subtle.ConstantTimeCompare(c.CodeMAC, s.boundMAC(phone, purpose, who, code)) != 1 {
			mismatch = true
			if c.Attempts+1 >= s.Cfg.CodeMaxAttempts {
				return q.DeleteCode(ctx, idx, purpose)
			}
			return q.CountCodeAttempt(ctx, idx, purpose)
		}
		if !burn {
			return nil
		}
		return q.DeleteCode(ctx, idx, purpose)
	})
	if err != nil {
		return s.Internal(ctx, "check code", err)
	}
	if mismatch {
		return errCodeMismatch
	}
	return nil
}

// DeviceInput is what a client says about its device (R-DEV-1).
type DeviceInput struct {
	ID, Model, OS, AppVersion, Network string
}

func (d DeviceInput) Validate(ip string) (tkesj.Device, error) {
	id, err := validate.DeviceID(d.ID)
	if err != nil {
		return tkesj.Device{}, err
	}
	out := tkesj.Device{ID: id, LoginIP: ip}
	for _, f := range []struct {
		name string
		in   string
		out  *string
	}{{"model", d.Model, &out.Model}, {"os", d.OS, &out.OS}, {"app_version", d.AppVersion, &out.AppVersion}, {"network", d.Network, &out.Network}} {
		if *f.out, err = validate.DeviceField(f.name, f.in); err != nil {
			return tkesj.Device{}, err
		}
	}
	return out, nil
}

// RegisterInput is a registration (API.md POST /accounts).
type RegisterInput struct {
	Phone, Code, Username, Password, Nickname, Gender, PolicyVersion, BirthDate string
	Device                                                                      DeviceInput
	IP                                                                          string
}

// Register creates an account after checking the one-time code, records the
// accepted policy in the consent ledger (R-ACC-2) and signs the device in.
func (s *Service) Register(ctx context.Context, in RegisterInput) (tkesj.User, string, error) {
	phone, err := validate.Phone(in.Phone, s.Cfg.PhoneRegion)
	if err != nil {
		return tkesj.User{}, "", err
	}
	username, err := validate.Username(in.Username)
	if err != nil {
		return tkesj.User{}, "", err
	}
	nickname, err := validate.Nickname(in.Nickname)
	if err != nil {
		return tkesj.User{}, "", err
	}
	gender, err := validate.Gender(in.Gender)
	if err != nil {
		return tkesj.User{}, "", err
	}
	if err := validate.Password(in.Password, username, strings.TrimPrefix(phone, "+"), nickname); err != nil {
		return tkesj.User{}, "", err
	}
	dev, err := in.Device.Validate(in.IP)
	if err != nil {
		return tkesj.User{}, "", err
	}
	minor, err := s.CheckBirthDate(in.BirthDate)
	if err != nil {
		return tkesj.User{}, "", err
	}
	pol, err := s.DB.Read().CurrentPolicy(ctx)
	if err != nil {
		return tkesj.User{}, "", s.Internal(ctx, "register", err)
	}
	if in.PolicyVersion != pol.Version {
		return tkesj.User{}, "", tkesj.Errorf(tkesj.EConflict, "policy_acceptance_required",
			"accept the current privacy policy (version %s) to register; read it at /api/v1/policy", pol.Version)
	}
	// Usernames are public (people find each other by them), so saying one is
	// taken before the code is checked reveals nothing private and spares the code.
	if _, err := s.DB.Read().FindUserByUsernameIdx(ctx, s.UsernameIdx(username)); err == nil {
		return tkesj.User{}, "", tkesj.Errorf(tkesj.EConflict, "username_taken", "this username is taken; choose another")
	}
	// The code is checked now and burnt in the transaction that creates the
	// account, after the insert: of two registrations racing for one phone,
	// the loser meets the unique phone index (409 phone_taken), and a code
	// can never make two accounts.
	if err := s.checkCode(ctx, phone, tkesj.PurposeRegister, in.Code, false); err != nil {
		if s.usedForRegistration(ctx, phone, in.Code) {
			return tkesj.User{}, "", tkesj.Errorf(tkesj.EConflict, "phone_taken", "this phone number already has an account; log in instead")
		}
		return tkesj.User{}, "", err
	}
	hash, err := s.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return tkesj.User{}, "", s.Internal(ctx, "register", err)
	}
	now := s.Now()
	u := tkesj.User{ID: kernel.NewID("u"), Username: username, Nickname: nickname, Gender: gender, Phone: phone, BirthDate: in.BirthDate, Status: tkesj.UserActive, CreatedAt: now}
	if minor {
		u.Status = tkesj.UserPendingGuardian
	}
	if err := s.Keys.CreateKey(ctx, u.ID); err != nil {
		return tkesj.User{}, "", s.Internal(ctx, "register", err)
	}
	sealed, err := s.Seal(ctx, u.ID, ProfileAD(u.ID), ProfileOf(u))
	if err != nil {
		s.Keys.Destroy(ctx, u.ID)
		return tkesj.User{}, "", s.Internal(ctx, "register", err)
	}
	rec := store.UserRecord{ID: u.ID, UsernameIdx: s.UsernameIdx(username), PhoneIdx: s.PhoneIdx(phone), Profile: sealed,
		PasswordHash: hash, Status: string(u.Status), CreatedAt: now, UpdatedAt: now}
	var token string
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.CreateUser(ctx, rec); err != nil {
			return err
		}
		if burnt, err := q.BurnCode(ctx, rec.PhoneIdx, tkesj.PurposeRegister); err != nil {
			return err
		} else if !burnt {
			return errCodeMismatch // used by a registration that won the race
		}
		if err := q.AppendConsent(ctx, u.ID, tkesj.Consent{Kind: tkesj.ConsentPolicy, Subject: pol.Version, Granted: true,
			Purpose: "acceptance of the privacy policy at registration", PolicyVersion: pol.Version, Method: "registration", At: now}); err != nil {
			return err
		}
		if err := q.SetPolicyAccepted(ctx, u.ID, pol.PublishedAt); err != nil {
			return err
		}
		if err := q.RememberNetwork(ctx, u.ID, s.networkIdx(u.ID, dev.LoginIP), now); err != nil {
			return err
		}
		if minor {
			st := tkesj.DefaultSettings()
			st.DefaultPostVisibility = "private" // a minor's Moments start private (R-MIN-1)
			doc, _ := json.Marshal(st)
			if err := q.PutSettings(ctx, u.ID, string(doc), now); err != nil {
				return err
			}
		}
		token, err = s.StartSession(ctx, q, u.ID, dev)
		return err
	})
	if err != nil {
		s.Keys.Destroy(ctx, u.ID)
		if k := tkesj.ErrorKindOf(err); k == tkesj.EConflict || k == tkesj.EInvalid {
			return tkesj.User{}, "", err
		}
		return tkesj.User{}, "", s.Internal(ctx, "register", err)
	}
	return u, token, nil
}

// usedForRegistration reports whether code is the right code for phone that a
// registration has just used: only its holder learns the phone is taken.
func (s *Service) usedForRegistration(ctx context.Context, phone, code string) bool {
	c, err := s.DB.Read().FindCode(ctx, s.PhoneIdx(phone), tkesj.PurposeRegister+"_used")
	return err == nil && s.Now().Before(c.ExpiresAt) && subtle.ConstantTimeCompare(c.CodeMAC, s.codeMAC(phone, tkesj.PurposeRegister, code)) == 1
}

func (s *Service) CheckBirthDate(raw string) (minor bool, err error) {
	if raw == "" {
		return false, nil
	}
	d, err := time.Parse("2006-01-02", raw)
	now := s.Now()
	if err != nil || d.After(now) || d.Before(now.AddDate(-150, 0, 0)) {
		return false, tkesj.Errorf(tkesj.EInvalid, "invalid_birth_date", "birth_date must be a past date written YYYY-MM-DD")
	}
	return d.After(now.AddDate(-s.Cfg.MinorAge, 0, 0)), nil
}

func ProfileOf(u tkesj.User) profile {
	return profile{Username: u.Username, Phone: u.Phone, Nickname: u.Nickname, Gender: u.Gender, AvatarID: u.AvatarID, BirthDate: u.BirthDate}
}

// StartSession records the device and a new session on it; it returns the token.
func (s *Service) StartSession(ctx context.Context, q *store.Queries, userID string, dev tkesj.Device) (string, error) {
	now := s.Now()
	dev.CreatedAt, dev.LastSeenAt = now, now
	idx := s.deviceIdx(userID, dev.ID)
	sealed, err := s.Seal(ctx, userID, DeviceAD(userID, idx), dev)
	if err != nil {
		return "", err
	}
	if err := q.UpsertDevice(ctx, store.DeviceRecord{UserID: userID, DeviceIdx: idx, Sealed: sealed, CreatedAt: now, LastSeenAt: now}); err != nil {
		return "", err
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	token := "tk_" + base64.RawURLEncoding.EncodeToString(raw)
	err = q.CreateSession(ctx, store.SessionRecord{TokenHash: tokenHash(token), UserID: userID, DeviceIdx: idx, CreatedAt: now, LastSeenAt: now})
	return token, err
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// LoginInput is a login (API.md POST /sessions): Login+Password or Phone+Code.
type LoginInput struct {
	Login, Password, Phone, Code string
	StepUpCode                   string // the code a risky password login was asked for
	Device                       DeviceInput
	IP                           string
}

var errBadCredentials = tkesj.Errorf(tkesj.EUnauthenticated, "invalid_credentials", "the login, password or code is wrong")

// Login signs a device in (R-ACC-4). Unknown accounts and wrong secrets give
// the same answer in about the same time.
func (s *Service) Login(ctx context.Context, in LoginInput) (tkesj.User, string, error) {
	dev, err := in.Device.Validate(in.IP)
	if err != nil {
		return tkesj.User{}, "", err
	}
	var rec store.UserRecord
	byPassword := false
	switch {
	case in.Code != "" || (in.Phone != "" && in.Password == ""):
		phone, err := validate.Phone(in.Phone, s.Cfg.PhoneRegion)
		if err != nil {
			return tkesj.User{}, "", err
		}
		account := "code\x00" + phone // the same whether or not the phone has an account
		if err := s.beforePassword(ctx, nil, account, in.IP); err != nil {
			return tkesj.User{}, "", err
		}
		if err := s.ConsumeCode(ctx, phone, tkesj.PurposeLogin, in.Code); err != nil {
			s.afterFailure(ctx, nil, account, in.IP)
			return tkesj.User{}, "", errBadCredentials
		}
		if rec, err = s.DB.Read().FindUserByPhoneIdx(ctx, s.PhoneIdx(phone)); err != nil {
			return tkesj.User{}, "", s.credentialsOr(ctx, err)
		}
		// A code proves the phone: password counters of the account clear
		// too, so a stranger's guesses never keep the owner out.
		s.afterSuccess(ctx, account, in.IP)
		s.afterSuccess(ctx, "user\x00"+rec.ID, in.IP)
	default:
		login := in.Login
		if login == "" {
			login = in.Phone
		}
		if login == "" || in.Password == "" {
			return tkesj.User{}, "", tkesj.Errorf(tkesj.EInvalid, "missing_credentials", "send login and password, or phone and code")
		}
		if len(in.Password) > 1024 {
			return tkesj.User{}, "", errBadCredentials
		}
		key, idx := s.loginIndex(login)
		account := "login\x00" + key // a login that names no account is counted as itself
		found, err := s.DB.Read().FindUserByUsernameIdx(ctx, idx)
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			found, err = s.DB.Read().FindUserByPhoneIdx(ctx, idx)
		}
		var acct *store.UserRecord
		if err == nil {
			acct = &found
			account = "user\x00" + found.ID // its username and its phone share one count
		} else if tkesj.ErrorKindOf(err) != tkesj.ENotFound {
			return tkesj.User{}, "", s.Internal(ctx, "login", err)
		}
		if err := s.beforePassword(ctx, acct, account, in.IP); err != nil {
			return tkesj.User{}, "", err
		}
		if acct == nil {
			s.Hasher.Dummy(ctx, in.Password)
			s.afterFailure(ctx, nil, account, in.IP)
			return tkesj.User{}, "", errBadCredentials
		}
		ok, err := s.Hasher.Verify(ctx, in.Password, found.PasswordHash)
		if err != nil {
			return tkesj.User{}, "", s.Internal(ctx, "login", err)
		}
		if !ok {
			s.afterFailure(ctx, acct, account, in.IP)
			return tkesj.User{}, "", errBadCredentials
		}
		s.afterSuccess(ctx, account, in.IP)
		rec, byPassword = found, true
	}
	if tkesj.UserStatus(rec.Status) == tkesj.UserFrozen {
		return tkesj.User{}, "", tkesj.Errorf(tkesj.EForbidden, "account_frozen", "this account is frozen; unfreeze it with a code sent to your phone and a new password")
	}
	u, err := s.UserFromRecord(ctx, rec)
	if err != nil {
		return tkesj.User{}, "", s.Internal(ctx, "login", err)
	}
	if byPassword {
		if err := s.stepUp(ctx, u, dev, in.StepUpCode); err != nil {
			return tkesj.User{}, "", err
		}
	}
	newDevice, err := s.DB.Read().KnownDevice(ctx, u.ID, s.deviceIdx(u.ID, dev.ID))
	if err != nil {
		return tkesj.User{}, "", s.Internal(ctx, "login", err)
	}
	newDevice = !newDevice
	var token string
	err = s.DB.Update(ctx, func(q *store.Queries) (err error) {
		if token, err = s.StartSession(ctx, q, u.ID, dev); err != nil {
			return err
		}
		return s.afterLogin(ctx, q, u, dev, newDevice)
	})
	if err != nil {
		return tkesj.User{}, "", s.Internal(ctx, "login", err)
	}
	return u, token, nil
}

// loginIndex turns a login (a username or a phone number) into the rate-limit
// key and the look-up index to try.
func (s *Service) loginIndex(login string) (string, []byte) {
	if u, err := validate.Username(login); err == nil {
		return "acct:" + u, s.UsernameIdx(u)
	}
	if p, err := validate.Phone(login, s.Cfg.PhoneRegion); err == nil {
		return "acct:" + p, s.PhoneIdx(p)
	}
	return "acct:?" + login, []byte("no such login")
}

func (s *Service) credentialsOr(ctx context.Context, err error) error {
	if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		return errBadCredentials
	}
	return s.Internal(ctx, "login", err)
}

func (s *Service) UserFromRecord(ctx context.Context, rec store.UserRecord) (tkesj.User, error) {
	var p profile
	if err := s.Open(ctx, rec.ID, ProfileAD(rec.ID), rec.Profile, &p); err != nil {
		return tkesj.User{}, err
	}
	return tkesj.User{ID: rec.ID, Username: p.Username, Nickname: p.Nickname, Gender: p.Gender, Phone: p.Phone,
		AvatarID: p.AvatarID, BirthDate: p.BirthDate, Status: tkesj.UserStatus(rec.Status), CreatedAt: rec.CreatedAt}, nil
}

// Authenticate resolves a bearer token to its session.
func (s *Service) Authenticate(ctx context.Context, token string) (kernel.Auth, error) {
	if !strings.HasPrefix(token, "tk_") || len(token) > 128 {
		return kernel.Auth{}, kernel.ErrBadToken
	}
	return s.authenticateHash(ctx, tokenHash(token))
}

// AuthenticateTokenHash resolves a session by its token's hash, as
// Authenticate does by the token: a WebSocket checks its session again this
// way on each request frame (the socket holds the hash, never the token), so
// a frame sees the session, account status and policy acceptance of the
// moment it is sent. A session that has ended is ErrBadToken.
func (s *Service) AuthenticateTokenHash(ctx context.Context, h []byte) (kernel.Auth, error) {
	if len(h) == 0 {
		return kernel.Auth{}, kernel.ErrBadToken
	}
	return s.authenticateHash(ctx, h)
}

// authenticateHash resolves a session by its token's hash (a bearer token's,
// or the one a WebSocket ticket names).
// The session comes from memory when this node read it lately (issue 17;
// sessionCacheTTL says what drops it).
func (s *Service) authenticateHash(ctx context.Context, h []byte) (kernel.Auth, error) {
	// Taken before the read: a session read while a sign-out committed is
	// not kept (kernel.LRU.Add).
	gen := s.sessions.Generation()
	sess, cached := s.sessions.Get(string(h))
	if !cached {
		var err error
		sess, err = s.DB.Read().FindSession(ctx, h)
		if err != nil {
			if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
				return kernel.Auth{}, kernel.ErrBadToken
			}
			return kernel.Auth{}, s.Internal(ctx, "authenticate", err)
		}
		s.sessions.Add(string(h), sess, gen)
	}
	if now := s.Now(); now.Sub(sess.LastSeenAt) > s.Cfg.SessionTouchStep {
		err := s.DB.Update(ctx, func(q *store.Queries) error { return q.TouchSession(ctx, sess, now) })
		// The next request reads the session again rather than trusting this
		// copy for another sessionCacheTTL: what it holds besides
		// last_seen_at (the account's status, its restrictions) was read
		// up to a TTL ago.
		s.sessions.Remove(string(h))
		switch {
		case tkesj.ErrorKindOf(err) == tkesj.ENotFound:
			return kernel.Auth{}, kernel.ErrBadToken // it ended since it was cached
		case err != nil:
			s.Log.WarnContext(ctx, "touch session", "err", err.Error())
		}
	}
	pending, err := s.policyPending(ctx, sess.PolicyAcceptedAt)
	if err != nil {
		return kernel.Auth{}, err
	}
	return kernel.Auth{UserID: sess.UserID, DeviceIdx: sess.DeviceIdx, PolicyPending: pending, Status: tkesj.UserStatus(sess.UserStatus), TokenHash: h,
		Unrestricted: !sess.MaybeRestricted}, nil
}

// Logout ends the caller's own session.
func (s *Service) Logout(ctx context.Context, a kernel.Auth) error {
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.DeleteSession(ctx, a.TokenHash) }); err != nil {
		return s.Internal(ctx, "logout", err)
	}
	s.CloseConnections(ctx, a.UserID, a.DeviceIdx)
	return nil
}

// Me returns the caller's own profile.
func (s *Service) Me(ctx context.Context, a kernel.Auth) (tkesj.User, error) {
	rec, err := s.DB.Read().FindUserByID(ctx, a.UserID)
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return tkesj.User{}, kernel.ErrBadToken
		}
		return tkesj.User{}, s.Internal(ctx, "me", err)
	}
	u, err := s.UserFromRecord(ctx, rec)
	if errors.Is(err, keyring.ErrShredded) {
		return tkesj.User{}, kernel.ErrBadToken
	} else if err != nil {
		return tkesj.User{}, s.Internal(ctx, "me", err)
	}
	return u, nil
}

// UpdateMe corrects the caller's profile (R-ACC-5).
func (s *Service) UpdateMe(ctx context.Context, a kernel.Auth, up tkesj.UserUpdate) (tkesj.User, error) {
	u, err := s.Me(ctx, a)
	if err != nil {
		return tkesj.User{}, err
	}
	var usernameIdx []byte
	if up.Nickname != nil {
		if u.Nickname, err = validate.Nickname(*up.Nickname); err != nil {
			return tkesj.User{}, err
		}
	}
	if up.Gender != nil {
		if u.Gender, err = validate.Gender(*up.Gender); err != nil {
			return tkesj.User{}, err
		}
	}
	if up.Username != nil {
		name, err := validate.Username(*up.Username)
		if err != nil {
			return tkesj.User{}, err
		}
		if name != u.Username {
			u.Username, usernameIdx = name, s.UsernameIdx(name)
		}
	}
	sealed, err := s.Seal(ctx, u.ID, ProfileAD(u.ID), ProfileOf(u))
	if err != nil {
		return tkesj.User{}, s.Internal(ctx, "update me", err)
	}
	err = s.DB.Update(ctx, func(q *store.Queries) error { return q.UpdateUserProfile(ctx, u.ID, usernameIdx, sealed, s.Now()) })
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.EConflict {
			return tkesj.User{}, err
		}
		return tkesj.User{}, s.Internal(ctx, "update me", err)
	}
	return u, nil
}

// DeviceView is a device as its owner sees it.
type DeviceView struct {
	tkesj.Device
	Current bool
}

// Devices lists the caller's devices (R-DEV-4), most recently used first.
func (s *Service) Devices(ctx context.Context, a kernel.Auth) ([]DeviceView, error) {
	recs, err := s.DB.Read().Devices(ctx, a.UserID)
	if err != nil {
		return nil, s.Internal(ctx, "devices", err)
	}
	out := make([]DeviceView, 0, len(recs))
	for _, r := range recs {
		var d tkesj.Device
		if err := s.Open(ctx, a.UserID, DeviceAD(a.UserID, r.DeviceIdx), r.Sealed, &d); err != nil {
			return nil, s.Internal(ctx, "devices", err)
		}
		d.CreatedAt, d.LastSeenAt = r.CreatedAt, r.LastSeenAt
		out = append(out, DeviceView{Device: d, Current: subtle.ConstantTimeCompare(r.DeviceIdx, a.DeviceIdx) == 1})
	}
	return out, nil
}

// SignOutDevice deletes one of the caller's devices and every session on it;
// its tokens fail from the next request on. Another person's device id, or an
// unknown one, is not_found.
func (s *Service) SignOutDevice(ctx context.Context, a kernel.Auth, deviceID string) error {
	if _, err := validate.DeviceID(deviceID); err != nil {
		return tkesj.ErrNotFound("device")
	}
	var found bool
	err := s.DB.Update(ctx, func(q *store.Queries) (err error) {
		found, err = q.DeleteDevice(ctx, a.UserID, s.deviceIdx(a.UserID, deviceID))
		return err
	})
	if err != nil {
		return s.Internal(ctx, "sign out device", err)
	}
	if !found {
		return tkesj.ErrNotFound("device")
	}
	s.CloseConnections(ctx, a.UserID, s.deviceIdx(a.UserID, deviceID))
	return nil
}
