package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// R-SEC-2, R-DEV-2: each category is kept only for its period: login IPs are
// cut to their network, idle devices go with their sessions, expired codes go.
func TestRetention(t *testing.T) {
	s := startServer(t, "sqlite", func(c *app.Config) {
		c.Service.Retention.LoginIP = 200 * time.Millisecond
		c.Service.Retention.DeviceIdle = time.Hour
	})
	p := s.register(t, "Kept Briefly")
	devs := s.do(t, p.Token, "GET", "/api/v1/me/devices", nil).JSON(t)["devices"].([]any)
	if ip := devs[0].(map[string]any)["login_ip"]; ip != "127.0.0.1" {
		t.Fatalf("login_ip = %v, want the full address at first", ip)
	}
	time.Sleep(300 * time.Millisecond)
	withApp(t, s, func(a *app.App) {
		if err := a.Service.RunRetention(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := a.Service.RetentionCounts()["login_ips_truncated"]; n != 1 {
			t.Errorf("retention truncated %d login IPs, want 1", n)
		}
	})
	devs = s.do(t, p.Token, "GET", "/api/v1/me/devices", nil).JSON(t)["devices"].([]any)
	if ip := devs[0].(map[string]any)["login_ip"]; ip != "127.0.0.0" {
		t.Errorf("after 30 days (here 200 ms), login_ip = %v, want 127.0.0.0", ip)
	}
	// A new login stores a whole address again, and its age restarts.
	tok := s.login(t, p, p.Device)
	devs = s.do(t, tok, "GET", "/api/v1/me/devices", nil).JSON(t)["devices"].([]any)
	if ip := devs[0].(map[string]any)["login_ip"]; ip != "127.0.0.1" {
		t.Errorf("after a new login, login_ip = %v", ip)
	}
}

// R-DEV-2: a device unused for the idle period is deleted with its sessions.
func TestIdleDevicesExpire(t *testing.T) {
	s := startServer(t, "sqlite", func(c *app.Config) { c.Service.Retention.DeviceIdle = 200 * time.Millisecond })
	p := s.register(t, "Idle")
	old := s.login(t, p, "old-tablet")
	time.Sleep(300 * time.Millisecond)
	withApp(t, s, func(a *app.App) {
		if err := a.Service.RunRetention(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	want(t, s.do(t, old, "GET", "/api/v1/me", nil), 401, "unauthenticated")
}

// R-MED-1, R-SEC-2: an upload nothing carries is purged after a day (here
// 200 ms); one sent in a chat stays.
func TestOrphanUploadsPurged(t *testing.T) {
	s := startServer(t, "sqlite", func(c *app.Config) { c.Service.Retention.OrphanUploads = 200 * time.Millisecond })
	a, c := s.register(t, "A"), s.register(t, "C")
	s.befriend(t, a, c)
	conv := s.direct(t, a, c)
	orphan := s.upload(t, a.Token, "", "o.pdf", []byte("%PDF-1.4 orphan"))
	kept := s.upload(t, a.Token, "", "k.pdf", []byte("%PDF-1.4 kept"))
	want(t, s.do(t, a.Token, "POST", "/api/v1/conversations/"+conv+"/messages", map[string]any{"client_id": "k", "kind": "file", "media_id": kept.str(t, "id")}), 201, "")
	time.Sleep(300 * time.Millisecond)
	withApp(t, s, func(app *app.App) {
		if err := app.Service.RunRetention(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	want(t, s.get(t, a.Token, "/api/v1/media/"+orphan.str(t, "id")), 404, "not_found")
	want(t, s.get(t, c.Token, "/api/v1/media/"+kept.str(t, "id")), 200, "")
}
