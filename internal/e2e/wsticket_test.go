package e2e

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/service"
)

// dialStatus opens /api/v1/ws?query and returns the HTTP status of a refused
// upgrade (101 when it was accepted).
func (s *server) dialStatus(t *testing.T, query string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, strings.Replace(s.URL, "http://", "ws://", 1)+"/api/v1/ws?"+query, nil)
	if err == nil {
		c.CloseNow()
		return 101
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

func (s *server) wsTicket(t *testing.T, token string) string {
	t.Helper()
	r := s.do(t, token, "POST", "/api/v1/ws-tickets", nil)
	want(t, r, 201, "")
	return r.str(t, "ticket")
}

// The web client opens its socket with a single-use ticket, so the bearer
// token never travels in a URL (proxies and access logs keep URLs).
func TestWSTicket(t *testing.T) {
	s := startServer(t, "sqlite")
	alice := s.register(t, "Alice")
	bob := s.registerFriendOf(t, alice)

	t.Run("a ticket opens a socket for the person who asked for it", func(t *testing.T) {
		w := s.wsQuery(t, "ticket="+s.wsTicket(t, alice.Token))
		w.next("ready")
		conv := s.direct(t, bob, alice)
		s.send(t, bob, conv, "via ticket")
		if m := w.next("message"); m["conversation_id"] != conv {
			t.Errorf("message frame = %v, want one in %s", m, conv)
		}
	})
	t.Run("a ticket works once", func(t *testing.T) {
		tk := s.wsTicket(t, alice.Token)
		if got := s.dialStatus(t, "ticket="+tk); got != 101 {
			t.Fatalf("first use = %d, want 101", got)
		}
		if got := s.dialStatus(t, "ticket="+tk); got != 401 {
			t.Errorf("second use = %d, want 401", got)
		}
	})
	t.Run("a forged ticket naming another person's session is refused", func(t *testing.T) {
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s.wsTicket(t, alice.Token), "wst_"))
		if err != nil || len(raw) != 72 {
			t.Fatalf("ticket is not 72 bytes of base64url: %v", err)
		}
		other, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s.wsTicket(t, bob.Token), "wst_"))
		copy(raw[24:56], other[24:56]) // Bob's session, Alice's MAC
		if got := s.dialStatus(t, "ticket=wst_"+base64.RawURLEncoding.EncodeToString(raw)); got != 401 {
			t.Errorf("forged ticket = %d, want 401", got)
		}
		if got := s.dialStatus(t, "ticket=wst_nonsense"); got != 401 {
			t.Errorf("garbage ticket = %d, want 401", got)
		}
	})
	t.Run("signing out voids the session's unused tickets", func(t *testing.T) {
		tablet := s.login(t, alice, "tablet-ticket")
		tk := s.wsTicket(t, tablet)
		want(t, s.do(t, tablet, "DELETE", "/api/v1/sessions/current", nil), 204, "")
		if got := s.dialStatus(t, "ticket="+tk); got != 401 {
			t.Errorf("ticket of a signed-out session = %d, want 401", got)
		}
	})
	t.Run("a ticket needs a signed-in caller", func(t *testing.T) {
		want(t, s.do(t, "", "POST", "/api/v1/ws-tickets", nil), 401, "unauthenticated")
	})
	t.Run("the token in the URL still works for older clients", func(t *testing.T) {
		s.ws(t, alice.Token).next("ready")
	})
}

// An expired ticket is refused (TTL below zero: expired when issued).
func TestWSTicketExpires(t *testing.T) {
	s := startServer(t, "sqlite", func(c *app.Config) { c.Service.WSTicketTTL = -time.Minute })
	p := s.register(t, "Late")
	if got := s.dialStatus(t, "ticket="+s.wsTicket(t, p.Token)); got != 401 {
		t.Errorf("expired ticket = %d, want 401", got)
	}
}

// GET /me tells staff their role, so the web client learns whether to show
// the staff console without a request that is a 403 for everyone else.
func TestMeNamesStaffRole(t *testing.T) {
	s := startServer(t, "sqlite")
	ordinary := s.register(t, "Ordinary")
	if _, ok := s.do(t, ordinary.Token, "GET", "/api/v1/me", nil).JSON(t)["staff_role"]; ok {
		t.Error("an ordinary person's /me has staff_role")
	}
	role := service.StaffRoles()[0]
	st := s.staff(t, role)
	if got := s.do(t, st.Token, "GET", "/api/v1/me", nil).JSON(t)["staff_role"]; got != role {
		t.Errorf("staff /me staff_role = %v, want %q", got, role)
	}
}
