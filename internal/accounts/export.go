package accounts

import (
	"context"
	"time"

	"github.com/tkesj/tkesj/internal/kernel"
)

func (s *Service) exportDevices(ctx context.Context, a kernel.Auth, x *kernel.Archive) error {
	ds, err := s.Devices(ctx, a)
	if err != nil {
		x.Lost("devices.json", "", "read_failed")
		return nil
	}
	out := make([]map[string]any, 0, len(ds))
	for _, d := range ds {
		out = append(out, map[string]any{"id": d.ID, "model": d.Model, "os": d.OS, "app_version": d.AppVersion, "network": d.Network,
			"login_ip": d.LoginIP, "created_at": d.CreatedAt.Format(time.RFC3339), "last_seen_at": d.LastSeenAt.Format(time.RFC3339)})
	}
	x.Count("devices", len(out))
	return x.JSON("devices.json", "devices", len(out), map[string]any{
		"about":   "your devices and login history: when each device first signed in (created_at), when it was last used (last_seen_at) and the IP address of its latest sign-in (login_ip)",
		"devices": out,
	})
}
