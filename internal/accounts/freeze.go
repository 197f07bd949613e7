package accounts

import (
	"context"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/validate"
)

// Freeze stops an account at once (R-SEC-3): "my account may be leaked".
// Every session ends and every socket closes; nobody can log in until the
// owner unfreezes it with a code to the phone and a new password.
func (s *Service) Freeze(ctx context.Context, a kernel.Auth) error {
	return s.freeze(ctx, a.UserID)
}

// FreezeByCode freezes from the login page, with a step_up code sent to the
// phone on file (for someone whose devices are all in the wrong hands).
func (s *Service) FreezeByCode(ctx context.Context, rawPhone, code string) error {
	phone, err := validate.Phone(rawPhone, s.Cfg.PhoneRegion)
	if err != nil {
		return err
	}
	if err := s.ConsumeCode(ctx, phone, tkesj.PurposeStepUp, strings.TrimSpace(code)); err != nil {
		return err
	}
	rec, err := s.DB.Read().FindUserByPhoneIdx(ctx, s.PhoneIdx(phone))
	if err != nil {
		return errCodeMismatch // a code can only have been sent to a registered phone
	}
	return s.freeze(ctx, rec.ID)
}

func (s *Service) freeze(ctx context.Context, userID string) error {
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.SetUserStatus(ctx, userID, string(tkesj.UserFrozen), s.Now()); err != nil {
			return err
		}
		return q.DeleteAllSessions(ctx, userID)
	})
	if err != nil {
		return s.Internal(ctx, "freeze", err)
	}
	s.CloseConnections(ctx, userID, nil)
	s.Log.InfoContext(ctx, "account frozen by its owner", "user", userID)
	return nil
}

// Unfreeze reopens a frozen account after verification (a reset code to the
// phone) and a password change; the person then logs in afresh.
func (s *Service) Unfreeze(ctx context.Context, rawPhone, code, newPassword string) error {
	phone, err := validate.Phone(rawPhone, s.Cfg.PhoneRegion)
	if err != nil {
		return err
	}
	rec, err := s.DB.Read().FindUserByPhoneIdx(ctx, s.PhoneIdx(phone))
	if err != nil || tkesj.UserStatus(rec.Status) != tkesj.UserFrozen {
		// Same answer for unknown and not-frozen: nothing is revealed.
		if cerr := s.ConsumeCode(ctx, phone, tkesj.PurposeReset, code); cerr != nil {
			return cerr
		}
		return tkesj.Errorf(tkesj.EConflict, "not_frozen", "there is no frozen account to unfreeze for this phone")
	}
	u, err := s.UserFromRecord(ctx, rec)
	if err != nil {
		return s.Internal(ctx, "unfreeze", err)
	}
	if err := validate.Password(newPassword, u.Username, strings.TrimPrefix(phone, "+"), u.Nickname); err != nil {
		return err
	}
	if err := s.ConsumeCode(ctx, phone, tkesj.PurposeReset, code); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return s.Internal(ctx, "unfreeze", err)
	}
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.UpdatePassword(ctx, rec.ID, hash, s.Now()); err != nil {
			return err
		}
		if err := q.LockUntil(ctx, rec.ID, time.Time{}); err != nil {
			return err
		}
		return q.SetUserStatus(ctx, rec.ID, string(tkesj.UserActive), s.Now())
	})
	if err != nil {
		return s.Internal(ctx, "unfreeze", err)
	}
	s.Invalidate(ctx, kernel.Invalidation{Users: []string{rec.ID}}) // sessions that still say frozen
	return nil
}

// ChangePassword replaces the caller's password after checking the current
// one (guesses throttled as logins are); every other session ends and its
// sockets close with 4001.
func (s *Service) ChangePassword(ctx context.Context, a kernel.Auth, current, next string) error {
	u, err := s.Me(ctx, a)
	if err != nil {
		return err
	}
	rec, err := s.DB.Read().FindUserByID(ctx, a.UserID)
	if err != nil {
		return s.Internal(ctx, "change password", err)
	}
	if err := s.CheckReverification(ctx, a, rec.PasswordHash, current); err != nil {
		return err
	}
	if err := validate.Password(next, u.Username, strings.TrimPrefix(u.Phone, "+"), u.Nickname); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, next)
	if err != nil {
		return s.Internal(ctx, "change password", err)
	}
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.UpdatePassword(ctx, a.UserID, hash, s.Now()); err != nil {
			return err
		}
		return q.DeleteOtherSessions(ctx, a.UserID, a.TokenHash)
	})
	if err != nil {
		return s.Internal(ctx, "change password", err)
	}
	// The other devices are signed out: their sockets close now (4001), or
	// a stolen device would go on receiving every message (issue 14 item 1).
	s.CloseOtherConnections(ctx, a.UserID, a.DeviceIdx)
	return nil
}
