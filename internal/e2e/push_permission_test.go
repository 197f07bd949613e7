package e2e

import (
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// R-NTF-3, R-PRM-1: the web client records the browser's notification
// permission in the ledger; withdrawing it stops pushes to every device at
// once. The push says whether its body is a preview, so the client can word
// the text-free form in the person's language.
func TestNotificationPermissionStopsPushes(t *testing.T) {
	br := newBrowser(t)
	s := startServer(t, "sqlite", func(c *app.Config) {
		c.Service.PushDelay = 300 * time.Millisecond
		c.PushAllowHosts = br.srv.Listener.Addr().String()
	})
	a, c := s.register(t, "Allows"), s.register(t, "Writes")
	s.befriend(t, a, c)
	conv := s.direct(t, a, c)
	want(t, s.do(t, a.Token, "PUT", "/api/v1/me/permissions/notifications", map[string]any{"granted": true}), 200, "")
	want(t, s.do(t, a.Token, "PUT", "/api/v1/me/push-subscription", br.subscription()), 204, "")
	s.send(t, c, conv, "hello")
	if m := br.next(t); m["preview"] != false || m["conversation_id"] != conv {
		t.Errorf("push = %v, want preview false for %s", m, conv)
	}
	want(t, s.do(t, a.Token, "PUT", "/api/v1/me/permissions/notifications", map[string]any{"granted": false}), 200, "")
	s.send(t, c, conv, "after withdrawal")
	br.none(t, 800*time.Millisecond)
	var found bool
	for _, e := range entries(t, s.do(t, a.Token, "GET", "/api/v1/me/consents", nil), "consents") {
		if e["kind"] == "permission" && e["subject"] == "notifications" && e["granted"] == false {
			found = true
		}
	}
	if !found {
		t.Error("the ledger has no withdrawal of notifications")
	}
}
