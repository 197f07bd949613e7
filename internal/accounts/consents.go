package accounts

import (
	"context"
	"slices"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// permissionPurpose says, in the policy's words, what each permission is for
// (policy §1 (II)); it is written into every ledger entry.
var permissionPurpose = map[string]string{
	tkesj.PermPhoneState:    "security risk control, statistics and message push",
	tkesj.PermStorage:       "saving and opening pictures, videos and files",
	tkesj.PermAlbum:         "uploading pictures and videos from the album",
	tkesj.PermCamera:        "taking photos and videos to send or post",
	tkesj.PermLocation:      "sharing your current location in chats and Moments",
	tkesj.PermMicrophone:    "sending voice messages",
	tkesj.PermNotifications: "showing notifications of new messages while the app is closed (Web Push)",
}

// Policy returns the current privacy policy.
func (s *Service) Policy(ctx context.Context) (tkesj.Policy, error) {
	p, err := s.DB.Read().CurrentPolicy(ctx)
	if err != nil {
		return tkesj.Policy{}, s.Internal(ctx, "policy", err)
	}
	return p, nil
}

// SetPermission records the person's grant or withdrawal of a device
// permission as a new ledger entry (R-PRM-1, R-CON-1). Withdrawal stops future
// processing only (R-PRM-3): nothing already stored is touched.
func (s *Service) SetPermission(ctx context.Context, a kernel.Auth, name string, granted bool) (tkesj.Consent, error) {
	purpose, ok := permissionPurpose[name]
	if !ok {
		return tkesj.Consent{}, tkesj.ErrNotFound("permission")
	}
	pol, err := s.Policy(ctx)
	if err != nil {
		return tkesj.Consent{}, err
	}
	c := tkesj.Consent{Kind: tkesj.ConsentPermission, Subject: name, Granted: granted, Purpose: purpose,
		PolicyVersion: pol.Version, Method: "api", At: s.Now()}
	if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.AppendConsent(ctx, a.UserID, c) }); err != nil {
		return tkesj.Consent{}, s.Internal(ctx, "set permission", err)
	}
	if name == tkesj.PermNotifications && !granted {
		// Withdrawing notifications stops pushes at once: every device's
		// subscription goes (a client subscribes again when allowed again).
		if err := s.deletePushSubscriptions(ctx, a.UserID); err != nil {
			return tkesj.Consent{}, err
		}
	}
	if s.onPermission != nil {
		s.onPermission(ctx, a.UserID, name, granted)
	}
	return c, nil
}

// OnPermissionChange registers fn to hear every grant and withdrawal, after
// it is recorded (calls end a person's sending when they withdraw the
// microphone). Call it once, while wiring, before serving.
func (s *Service) OnPermissionChange(fn func(ctx context.Context, userID, name string, granted bool)) {
	s.onPermission = fn
}

// Permissions returns the current state of every permission: the latest
// ledger entry for it, or not granted when there is none.
func (s *Service) Permissions(ctx context.Context, a kernel.Auth) (map[string]bool, error) {
	all, err := s.Consents(ctx, a)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, p := range tkesj.Permissions() {
		out[p] = false
	}
	for _, c := range all {
		if c.Kind == tkesj.ConsentPermission {
			out[c.Subject] = c.Granted
		}
	}
	return out, nil
}

// PermissionGranted reports whether the person's latest word on a permission
// is a grant. Features call it before each use (R-PRM-2).
func (s *Service) PermissionGranted(ctx context.Context, userID, name string) (bool, error) {
	c, err := s.DB.Read().LatestConsent(ctx, userID, tkesj.ConsentPermission, name)
	if tkesj.ErrorKindOf(err) == tkesj.ENotFound {
		return false, nil
	}
	if err != nil {
		return false, s.Internal(ctx, "permission", err)
	}
	return c.Granted, nil
}

// RequirePermission returns permission_revoked, naming the permission and how
// to grant it, unless the person has granted it (R-PRM-2).
func (s *Service) RequirePermission(ctx context.Context, userID, name, feature string) error {
	ok, err := s.PermissionGranted(ctx, userID, name)
	if err != nil {
		return err
	}
	if !ok {
		return tkesj.Errorf(tkesj.EForbidden, "permission_revoked",
			"%s needs the %q permission; grant it in Me > Privacy > Permissions (PUT /api/v1/me/permissions/%s with {\"granted\":true})", feature, name, name)
	}
	return nil
}

// Consents returns the caller's whole consent ledger, oldest first (R-CON-1).
func (s *Service) Consents(ctx context.Context, a kernel.Auth) ([]tkesj.Consent, error) {
	cs, err := s.DB.Read().Consents(ctx, a.UserID)
	if err != nil {
		return nil, s.Internal(ctx, "consents", err)
	}
	return cs, nil
}

// IsPermission reports whether name is a known permission.
func IsPermission(name string) bool { return slices.Contains(tkesj.Permissions(), name) }

// deletePushSubscriptions removes every push subscription of a person
// (they hang off the person's devices, which accounts owns).
func (s *Service) deletePushSubscriptions(ctx context.Context, userID string) error {
	err := s.DB.Update(ctx, func(q *store.Queries) error {
		subs, err := q.PushSubscriptions(ctx, userID)
		if err != nil {
			return err
		}
		for _, r := range subs {
			if err := q.DeletePushSubscription(ctx, userID, r.DeviceIdx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return s.Internal(ctx, "push subscriptions", err)
	}
	return nil
}
