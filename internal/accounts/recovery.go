package accounts

import (
	"context"
	"encoding/hex"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/validate"
)

// Account recovery (R-ACC-6): a forgotten password is reset with a code sent
// to the phone on file, and a person moves their account to a new phone with
// a code sent to the new number and their password. Neither tells a caller
// whether a phone has an account: a reset code for an unknown phone is
// "sent" (nothing goes out) and a wrong phone/code pair is the same 401 for
// both. The counters live in the throttles table, so every node counts the
// same tries.
const (
	recoveryCodesPerHour = 5                // code requests per phone (reset) or account (change_phone)
	recoveryTries        = 10               // wrong codes before the door shuts for a while
	recoveryTryWindow    = 15 * time.Minute // ... sliding: it reopens after this long without a try
)

// throttleKey names a counter without the phone number in it: the phone's
// keyed index stands in for it.
func (s *Service) phoneThrottleKey(what, phone string) string {
	return what + ":" + hex.EncodeToString(s.PhoneIdx(phone))
}

// accountThrottleKey names a counter for an account by a keyed hash of its
// id, so the throttles table holds no person's id.
func (s *Service) accountThrottleKey(what, userID string) string {
	return what + ":" + hex.EncodeToString(s.Keys.Index("throttle", userID)[:16])
}

// hit counts one event on key and answers 429 once it is over limit.
func (s *Service) hit(ctx context.Context, key string, limit int, window time.Duration, sliding bool, what string) error {
	now := s.Now()
	var n int
	var until time.Time
	err := s.DB.Update(ctx, func(q *store.Queries) (err error) {
		n, until, err = q.HitThrottle(ctx, key, now, window, sliding)
		return err
	})
	if err != nil {
		return s.Internal(ctx, "throttle", err)
	}
	if n > limit {
		return RateLimited(until.Sub(now), what)
	}
	return nil
}

// requestResetCode counts a reset code request for phone in the shared
// throttle; RequestCode then sends it (or, for an unknown phone, does not).
func (s *Service) requestResetCode(ctx context.Context, phone string) error {
	return s.hit(ctx, s.phoneThrottleKey("code_reset", phone), recoveryCodesPerHour, time.Hour, false, "code requests for this phone")
}

var errResetCredentials = tkesj.Errorf(tkesj.EUnauthenticated, "invalid_credentials", "the phone number or the code is wrong, or the code has expired; request a new one")

// ResetPassword sets a new password for the account on phone, with a code of
// purpose reset sent to it (POST /api/v1/password-resets). Every session of
// the account ends and its sockets close (4001): whoever knew the old
// password is out. A wrong pair is 401 invalid_credentials whether or not the
// phone has an account; the code is burnt only by a reset that succeeds.
func (s *Service) ResetPassword(ctx context.Context, rawPhone, code, newPassword string) error {
	phone, err := validate.Phone(rawPhone, s.Cfg.PhoneRegion)
	if err != nil {
		return err
	}
	// What can be said about the password without the account is said
	// first, to everyone alike.
	if err := validate.Password(newPassword, "", strings.TrimPrefix(phone, "+"), ""); err != nil {
		return err
	}
	if err := s.hit(ctx, s.phoneThrottleKey("reset_try", phone), recoveryTries, recoveryTryWindow, true, "password reset attempts for this phone"); err != nil {
		return err
	}
	if err := s.checkCode(ctx, phone, tkesj.PurposeReset, strings.TrimSpace(code), false); err != nil {
		if tkesj.ErrorCode(err) == "code_mismatch" {
			return errResetCredentials
		}
		return err
	}
	// A reset code exists only for a registered phone (RequestCode sends
	// none otherwise), so from here on the caller has proved they hold it.
	rec, err := s.DB.Read().FindUserByPhoneIdx(ctx, s.PhoneIdx(phone))
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
			return errResetCredentials // the account went since the code was sent
		}
		return s.Internal(ctx, "reset password", err)
	}
	u, err := s.UserFromRecord(ctx, rec)
	if err != nil {
		return s.Internal(ctx, "reset password", err)
	}
	if err := validate.Password(newPassword, u.Username, strings.TrimPrefix(phone, "+"), u.Nickname); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return s.Internal(ctx, "reset password", err)
	}
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if burnt, err := q.BurnCode(ctx, rec.PhoneIdx, tkesj.PurposeReset); err != nil {
			return err
		} else if !burnt {
			return errResetCredentials // a concurrent reset used it
		}
		if err := q.UpdatePassword(ctx, rec.ID, hash, s.Now()); err != nil {
			return err
		}
		if err := q.LockUntil(ctx, rec.ID, time.Time{}); err != nil {
			return err
		}
		return q.DeleteAllSessions(ctx, rec.ID)
	})
	if err != nil {
		if tkesj.ErrorKindOf(err) == tkesj.EUnauthenticated {
			return err
		}
		return s.Internal(ctx, "reset password", err)
	}
	s.clearFailures(ctx, s.throttleKey("pw", rec.ID)) // a fresh start for the new password
	s.CloseConnections(ctx, rec.ID, nil)
	s.Log.InfoContext(ctx, "password reset by phone code", "user", rec.ID)
	return nil
}

// newPhone checks a new phone number for the caller: valid, not their own,
// and not another account's (409 phone_taken, said before any code: the
// caller is signed in and counted, so it is the same answer registration
// gives, and no way to list phones).
func (s *Service) newPhone(ctx context.Context, a kernel.Auth, rawPhone string) (string, error) {
	phone, err := validate.Phone(rawPhone, s.Cfg.PhoneRegion)
	if err != nil {
		return "", err
	}
	other, err := s.DB.Read().FindUserByPhoneIdx(ctx, s.PhoneIdx(phone))
	switch {
	case err == nil && other.ID == a.UserID:
		return "", tkesj.Errorf(tkesj.EInvalid, "same_phone", "this is already your phone number")
	case err == nil:
		return "", tkesj.Errorf(tkesj.EConflict, "phone_taken", "this phone number already has an account")
	case tkesj.ErrorKindOf(err) != tkesj.ENotFound:
		return "", s.Internal(ctx, "change phone", err)
	}
	return phone, nil
}

// RequestPhoneChangeCode sends a change_phone code to the caller's new
// number. The code is bound to the caller: nobody else can use it.
func (s *Service) RequestPhoneChangeCode(ctx context.Context, a kernel.Auth, rawPhone string) error {
	if err := s.RequireActive(ctx, a); err != nil {
		return err
	}
	if err := s.hit(ctx, s.accountThrottleKey("code_change_phone", a.UserID), recoveryCodesPerHour, time.Hour, false, "phone change codes"); err != nil {
		return err
	}
	phone, err := s.newPhone(ctx, a, rawPhone)
	if err != nil {
		return err
	}
	now := s.Now()
	if c, err := s.DB.Read().FindCode(ctx, s.PhoneIdx(phone), tkesj.PurposeChangePhone); err == nil && now.Before(c.ExpiresAt) {
		if wait := c.CreatedAt.Add(s.Cfg.CodeCooldown).Sub(now); wait > 0 {
			return RateLimited(wait, "code requests for this phone")
		}
	}
	return s.issueCode(ctx, phone, tkesj.PurposeChangePhone, codeFor(a.UserID), tkesj.PurposeChangePhone)
}

// ChangePhone moves the caller's account to a new phone (POST
// /api/v1/me/phone): the code sent there proves they hold it and their
// password that they are who the account is. Sessions stay; the old number
// no longer signs in.
func (s *Service) ChangePhone(ctx context.Context, a kernel.Auth, rawPhone, code, password string) (tkesj.User, error) {
	if err := s.RequireActive(ctx, a); err != nil {
		return tkesj.User{}, err
	}
	if err := s.hit(ctx, s.accountThrottleKey("change_phone_try", a.UserID), recoveryTries, recoveryTryWindow, true, "phone change attempts"); err != nil {
		return tkesj.User{}, err
	}
	phone, err := s.newPhone(ctx, a, rawPhone)
	if err != nil {
		return tkesj.User{}, err
	}
	rec, err := s.DB.Read().FindUserByID(ctx, a.UserID)
	if err != nil {
		return tkesj.User{}, s.Internal(ctx, "change phone", err)
	}
	if len(password) > 1024 {
		return tkesj.User{}, errReverify
	}
	if ok, err := s.Hasher.Verify(ctx, password, rec.PasswordHash); err != nil {
		return tkesj.User{}, s.Internal(ctx, "change phone", err)
	} else if !ok {
		return tkesj.User{}, errReverify
	}
	if err := s.checkBoundCode(ctx, phone, tkesj.PurposeChangePhone, codeFor(a.UserID), strings.TrimSpace(code), false); err != nil {
		return tkesj.User{}, err
	}
	u, err := s.UserFromRecord(ctx, rec)
	if err != nil {
		return tkesj.User{}, s.Internal(ctx, "change phone", err)
	}
	u.Phone = phone
	sealed, err := s.Seal(ctx, u.ID, ProfileAD(u.ID), ProfileOf(u))
	if err != nil {
		return tkesj.User{}, s.Internal(ctx, "change phone", err)
	}
	idx := s.PhoneIdx(phone)
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if burnt, err := q.BurnCode(ctx, idx, tkesj.PurposeChangePhone); err != nil {
			return err
		} else if !burnt {
			return errCodeMismatch
		}
		return q.UpdateUserPhone(ctx, u.ID, idx, sealed, s.Now())
	})
	if err != nil {
		if k := tkesj.ErrorKindOf(err); k == tkesj.EConflict || k == tkesj.EInvalid {
			return tkesj.User{}, err
		}
		return tkesj.User{}, s.Internal(ctx, "change phone", err)
	}
	s.Log.InfoContext(ctx, "phone number changed", "user", u.ID)
	return u, nil
}

var errReverify = tkesj.Errorf(tkesj.EForbidden, "reverification_failed", "the password is wrong")
