package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Every route declares each of its gates; nothing is left to a default that a
// new route could inherit by forgetting.
func TestEveryRouteDeclaresItsGates(t *testing.T) {
	patterns, metrics := map[string]bool{}, map[string]string{}
	for _, rt := range (&server{}).routes() {
		t.Run(rt.pattern, func(t *testing.T) {
			method, path, ok := strings.Cut(rt.pattern, " ")
			if !ok || method == "" || !strings.HasPrefix(path, "/") {
				t.Fatalf("pattern %q is not \"METHOD /path\"", rt.pattern)
			}
			if patterns[rt.pattern] {
				t.Errorf("pattern %q routes twice", rt.pattern)
			}
			patterns[rt.pattern] = true
			if rt.auth == 0 {
				t.Errorf("%s declares no authentication gate", rt.pattern)
			}
			if rt.policy == 0 {
				t.Errorf("%s does not declare whether it is open while a policy acceptance is pending", rt.pattern)
			}
			if rt.cease == 0 {
				t.Errorf("%s does not declare whether it is open while the service ceases", rt.pattern)
			}
			if rt.auth == public && rt.policy != policyExempt {
				t.Errorf("%s is public but policy-gated: there is no person whose acceptance to check", rt.pattern)
			}
			if rt.metric == "" {
				t.Errorf("%s declares no metric label", rt.pattern)
			} else if other, dup := metrics[rt.metric]; dup {
				t.Errorf("%s and %s share the metric label %q", rt.pattern, other, rt.metric)
			}
			metrics[rt.metric] = rt.pattern
			if rt.handler == nil {
				t.Errorf("%s has no handler", rt.pattern)
			}
			// R-OPS-3: cessation never takes away reading or deleting.
			if (method == "GET" || method == "DELETE") && rt.cease != whileCeasing {
				t.Errorf("%s is a read or a deletion yet closed while ceasing", rt.pattern)
			}
		})
	}
}

// refusalHeaders are the headers every answer carries, refusals included.
var refusalHeaders = []string{"X-Request-Id", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options",
	"Cross-Origin-Opener-Policy", "Permissions-Policy", "Cache-Control"}

// A panic in a handler is answered like every other refusal: a problem
// document with the request id and the security headers, and it is observed.
func TestPanicAnswerCarriesRequestIDAndHeaders(t *testing.T) {
	var seen []string
	s := &server{log: slog.New(slog.DiscardHandler), opts: Options{Observe: func(route string, status int, _ time.Duration) {
		seen = append(seen, fmt.Sprint(route, " ", status))
	}}}
	h := s.middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("boom") }))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/me", nil))
	if w.Code != 500 || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("panic answered %d %q, want 500 and a problem document", w.Code, w.Header().Get("Content-Type"))
	}
	for _, name := range refusalHeaders {
		if w.Header().Get(name) == "" {
			t.Errorf("the panic's answer has no %s header", name)
		}
	}
	if len(seen) != 1 || seen[0] != "other 500" {
		t.Errorf("observer heard %v, want [other 500]", seen)
	}
}
