package accounts

import (
	"context"
	"strings"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/privacy"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/validate"
)

func guardianPurpose(userID string) string { return tkesj.PurposeGuardian + ":" + userID }

// RequestGuardianCode sends a code to the phone of a minor's parent or
// guardian (R-MIN-1). Only accounts waiting for a guardian may ask, and the
// guardian's phone must not be the minor's own.
func (s *Service) RequestGuardianCode(ctx context.Context, a kernel.Auth, rawPhone string) error {
	u, err := s.Me(ctx, a)
	if err != nil {
		return err
	}
	if u.Status != tkesj.UserPendingGuardian {
		return tkesj.Errorf(tkesj.EConflict, "guardian_not_needed", "this account does not need a guardian's consent")
	}
	phone, err := validate.Phone(rawPhone, s.Cfg.PhoneRegion)
	if err != nil {
		return err
	}
	if phone == u.Phone {
		return tkesj.Errorf(tkesj.EInvalid, "guardian_phone_is_own", "enter the phone number of your parent or guardian, not your own")
	}
	if err := s.CodeQuota(ctx, phone, ""); err != nil {
		return err
	}
	return s.IssueCode(ctx, phone, guardianPurpose(u.ID), tkesj.PurposeGuardian)
}

// ConfirmGuardian checks the guardian's code, writes the guardian's consent
// to the ledger and lets the account chat and post.
func (s *Service) ConfirmGuardian(ctx context.Context, a kernel.Auth, rawPhone, code string) error {
	u, err := s.Me(ctx, a)
	if err != nil {
		return err
	}
	if u.Status != tkesj.UserPendingGuardian {
		return tkesj.Errorf(tkesj.EConflict, "guardian_not_needed", "this account does not need a guardian's consent")
	}
	phone, err := validate.Phone(rawPhone, s.Cfg.PhoneRegion)
	if err != nil {
		return err
	}
	if err := s.ConsumeCode(ctx, phone, guardianPurpose(u.ID), strings.TrimSpace(code)); err != nil {
		return err
	}
	pol, err := s.Policy(ctx)
	if err != nil {
		return err
	}
	err = s.DB.Update(ctx, func(q *store.Queries) error {
		if err := q.AppendConsent(ctx, u.ID, tkesj.Consent{Kind: tkesj.ConsentGuardian, Subject: privacy.MaskPhone(phone), Granted: true,
			Purpose: "a parent or guardian consents to a minor's use of tkesj", PolicyVersion: pol.Version, Method: "guardian_code", At: s.Now()}); err != nil {
			return err
		}
		return q.SetUserStatus(ctx, u.ID, string(tkesj.UserActive), s.Now())
	})
	if err != nil {
		return s.Internal(ctx, "confirm guardian", err)
	}
	s.Invalidate(ctx, kernel.Invalidation{Users: []string{u.ID}}) // sessions that still say pending
	return nil
}
