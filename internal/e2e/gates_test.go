package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// securityHeaders are what every answer carries, refusals included, besides
// its X-Request-Id.
var securityHeaders = map[string]string{
	"X-Content-Type-Options":     "nosniff",
	"Referrer-Policy":            "no-referrer",
	"X-Frame-Options":            "DENY",
	"Cross-Origin-Opener-Policy": "same-origin",
	"Cache-Control":              "no-store",
}

// Every gate's refusal is an answer like any other: it names its request id
// (so a person can quote it to support) and carries the security headers.
// The gates are those the route table declares (authentication, the policy
// gate of R-POL-1, the cessation gate of R-OPS-3), the body limit, rate
// limits, and routing itself.
func TestEveryRefusalCarriesRequestIDAndSecurityHeaders(t *testing.T) {
	s := startServer(t, "sqlite", func(c *app.Config) { c.Service.PolicyCacheTTL = time.Millisecond })
	p := s.register(t, "Gated")
	check := func(t *testing.T, r response, status int, code string) {
		t.Helper()
		want(t, r, status, code)
		if id := r.Header.Get("X-Request-Id"); len(id) < 8 {
			t.Errorf("X-Request-Id = %q, want the request's id", id)
		}
		for name, v := range securityHeaders {
			if got := r.Header.Get(name); got != v {
				t.Errorf("%s = %q, want %q", name, got, v)
			}
		}
	}
	t.Run("authentication refuses a missing token", func(t *testing.T) {
		check(t, s.do(t, "", "GET", "/api/v1/contacts", nil), 401, "unauthenticated")
	})
	t.Run("authentication refuses a WebSocket without a token", func(t *testing.T) {
		check(t, s.do(t, "", "GET", "/api/v1/ws", nil), 401, "unauthenticated")
	})
	t.Run("a body over the limit is refused", func(t *testing.T) {
		big := `{"phone":"` + strings.Repeat("1", 70<<10) + `"}`
		check(t, s.do(t, "", "POST", "/api/v1/sessions", big), 413, "body_too_large")
	})
	t.Run("the rate limit refuses a second code while the first is fresh", func(t *testing.T) {
		phone := newPhone()
		s.code(t, phone, "register")
		check(t, s.do(t, "", "POST", "/api/v1/verification-codes", map[string]string{"phone": phone, "purpose": "register"}), 429, "rate_limited")
	})
	t.Run("an unknown method on a known path is refused", func(t *testing.T) {
		check(t, s.do(t, p.Token, "PUT", "/api/v1/contacts", nil), 405, "method_not_allowed")
	})
	t.Run("an unknown API path is refused", func(t *testing.T) {
		check(t, s.do(t, p.Token, "GET", "/api/v1/nowhere", nil), 404, "not_found")
	})
	t.Run("the policy gate refuses until a major update is accepted", func(t *testing.T) {
		withApp(t, s, func(a *app.App) {
			if _, err := a.Service.PublishPolicy(context.Background(), "2", true, "more processing"); err != nil {
				t.Fatal(err)
			}
		})
		var r response
		waitFor(t, "the policy gate", func() bool {
			r = s.do(t, p.Token, "GET", "/api/v1/contacts", nil)
			return r.Status == 409
		})
		check(t, r, 409, "policy_acceptance_required")
		want(t, s.do(t, p.Token, "POST", "/api/v1/policy/accept", map[string]any{"version": "2"}), 204, "")
	})
	t.Run("the cessation gate refuses new data", func(t *testing.T) {
		withApp(t, s, func(a *app.App) {
			if _, err := a.Service.Cease(context.Background(), 30, ""); err != nil {
				t.Fatal(err)
			}
		})
		var r response
		waitFor(t, "the cessation gate", func() bool {
			r = s.do(t, p.Token, "POST", "/api/v1/moments", map[string]any{"text": "more"})
			return r.Status == 403
		})
		check(t, r, 403, "service_ceasing")
	})
}
