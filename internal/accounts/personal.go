package accounts

import (
	"context"
	"net"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/store"
)

// registerPersonalData tells the kernel's registry what accounts stores about
// people and how it is erased, exported and retained.
func (s *Service) registerPersonalData() {
	r := s.Cfg.Retention
	s.Personal.Register(
		kernel.PersonalData{
			Name: "account and profile", Owner: "accounts", Tables: []string{"users"},
			// The destruction deletes the row itself (compliance/destroy.go), after the key.
			Erase:  kernel.Erasure{Other: "the destruction destroys the data key, then deletes the row; everything declared ON DELETE CASCADE goes with it"},
			Export: s.exportProfile, ExportOrder: 0,
		},
		kernel.PersonalData{
			Name: "devices, sessions and known networks", Owner: "accounts", Tables: []string{"devices", "sessions", "known_networks"},
			Erase:  kernel.Erasure{Cascade: true},
			Export: s.exportDevices, ExportOrder: 10,
			Retain: []kernel.RetentionRule{
				{Metric: "devices", Run: func(ctx context.Context, now time.Time) (int64, error) {
					return s.update(ctx, func(q *store.Queries) (int64, error) { return q.DeleteIdleDevices(ctx, now.Add(-r.DeviceIdle)) })
				}},
				{Metric: "login_ips_truncated", Run: func(ctx context.Context, now time.Time) (int64, error) {
					return s.truncateLoginIPs(ctx, now.Add(-r.LoginIP))
				}},
			},
		},
		kernel.PersonalData{
			Name: "one-time codes", Owner: "accounts", Tables: []string{"codes"},
			Erase:    kernel.Erasure{Other: "keyed by a phone hash, not the account; a code expires within minutes and retention deletes it"},
			NoExport: "a code lives for minutes and means nothing to its owner afterwards",
			Retain: []kernel.RetentionRule{{Metric: "codes", Run: func(ctx context.Context, now time.Time) (int64, error) {
				return s.update(ctx, func(q *store.Queries) (int64, error) { return q.DeleteExpiredCodes(ctx, now) })
			}}},
		},
		kernel.PersonalData{
			Name: "consents", Owner: "accounts", Tables: []string{"consents"},
			Erase:  kernel.Erasure{Cascade: true},
			Export: s.exportConsents, ExportOrder: 40,
		},
		kernel.PersonalData{
			Name: "automated decisions", Owner: "accounts", Tables: []string{"decisions"},
			Erase:    kernel.Erasure{Cascade: true},
			NoExport: "not in the archive yet: the person reads them at GET /api/v1/me/decisions (gap found by the registry test)",
			Retain: []kernel.RetentionRule{{Metric: "decisions", Run: func(ctx context.Context, now time.Time) (int64, error) {
				return s.update(ctx, func(q *store.Queries) (int64, error) { return q.DeleteOldDecisions(ctx, now.Add(-r.Decisions)) })
			}}},
		},
	)
}

// update runs fn in one write transaction and returns its count.
func (s *Service) update(ctx context.Context, fn func(q *store.Queries) (int64, error)) (n int64, err error) {
	err = s.DB.Update(ctx, func(q *store.Queries) (err error) { n, err = fn(q); return err })
	return n, err
}

// truncateLoginIPs keeps only the network of login addresses older than
// before (R-SEC-2), one bounded batch per call.
func (s *Service) truncateLoginIPs(ctx context.Context, before time.Time) (int64, error) {
	devs, err := s.DB.Read().DevicesWithOldIPs(ctx, before, 500)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, d := range devs {
		var dev tkesj.Device
		if err := s.Open(ctx, d.UserID, DeviceAD(d.UserID, d.DeviceIdx), d.Sealed, &dev); err != nil {
			continue // a destroyed person's leftover: the purge removes it
		}
		dev.LoginIP = truncateIP(dev.LoginIP)
		sealed, err := s.Seal(ctx, d.UserID, DeviceAD(d.UserID, d.DeviceIdx), dev)
		if err != nil {
			return n, err
		}
		if err := s.DB.Update(ctx, func(q *store.Queries) error { return q.SetTruncatedDevice(ctx, d.UserID, d.DeviceIdx, sealed) }); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// truncateIP keeps the network of an address and drops the host part.
func truncateIP(ip string) string {
	if net.ParseIP(ip) == nil {
		return ""
	}
	return NetworkOf(ip)
}

// exportProfile writes profile.json.
func (s *Service) exportProfile(ctx context.Context, a kernel.Auth, x *kernel.Archive) error {
	me, err := s.Me(ctx, a)
	if err != nil {
		return err
	}
	prof := map[string]any{"id": me.ID, "username": me.Username, "nickname": me.Nickname, "gender": me.Gender, "phone": me.Phone,
		"status": string(me.Status), "created_at": me.CreatedAt.Format(time.RFC3339)}
	if me.BirthDate != "" {
		prof["birth_date"] = me.BirthDate
	}
	if me.AvatarID != "" {
		path, _ := x.MediaPath(me.AvatarID)
		prof["avatar"] = map[string]any{"media_id": me.AvatarID, "path": path}
	}
	return x.JSON("profile.json", "profile", 1, prof)
}

// exportConsents writes consents.json, the person's whole consent history.
func (s *Service) exportConsents(ctx context.Context, a kernel.Auth, x *kernel.Archive) error {
	cs, err := s.Consents(ctx, a)
	if err != nil {
		x.Lost("consents.json", "", "read_failed")
		return nil
	}
	out := make([]map[string]any, 0, len(cs))
	for _, c := range cs {
		out = append(out, map[string]any{"kind": c.Kind, "subject": c.Subject, "granted": c.Granted, "purpose": c.Purpose,
			"policy_version": c.PolicyVersion, "method": c.Method, "at": c.At.Format(time.RFC3339Nano)})
	}
	x.Count("consents", len(out))
	return x.JSON("consents.json", "consents", len(out), map[string]any{"consents": out})
}
