package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// withApp opens the server's store beside it, as an operator command does.
func withApp(t testing.TB, s *server, fn func(a *app.App)) {
	t.Helper()
	a, err := app.Open(context.Background(), s.cfg, app.NewLogger(&syncBuffer{}, "error"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	fn(a)
}

// R-POL-1: a major policy update blocks everyone until they accept it, except
// reading and accepting it, exporting and destroying; a minor one only
// announces. Acceptances are ledger entries.
func TestPolicyUpdates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b, func(c *app.Config) { c.Service.PolicyCacheTTL = time.Millisecond })
		p, q := s.register(t, "Reader"), s.register(t, "Leaver")
		s.befriend(t, p, q)
		conv := s.direct(t, p, q)
		withApp(t, s, func(a *app.App) {
			if _, err := a.Service.PublishPolicy(context.Background(), "1.1", false, "a small clarification"); err != nil {
				t.Fatal(err)
			}
		})
		want(t, s.do(t, p.Token, "GET", "/api/v1/contacts", nil), 200, "")
		if v := s.do(t, "", "GET", "/api/v1/policy", nil).str(t, "version"); v != "1.1" {
			t.Fatalf("current policy = %q, want 1.1", v)
		}
		// R-OPS-2: the update is announced to everyone.
		if an := s.do(t, p.Token, "GET", "/api/v1/announcements", nil); !strings.Contains(string(an.Body), "version 1.1") {
			t.Errorf("announcements after a policy update = %s", an.Body)
		}
		withApp(t, s, func(a *app.App) {
			if _, err := a.Service.PublishPolicy(context.Background(), "2", true, "we now process more things"); err != nil {
				t.Fatal(err)
			}
		})
		for _, c := range []struct{ method, path string }{{"GET", "/api/v1/contacts"}, {"GET", "/api/v1/conversations/" + conv + "/messages"}, {"GET", "/api/v1/me/consents"}} {
			want(t, s.do(t, p.Token, c.method, c.path, nil), 409, "policy_acceptance_required")
		}
		want(t, s.do(t, p.Token, "GET", "/api/v1/me", nil), 200, "")
		want(t, s.do(t, "", "GET", "/api/v1/policy", nil), 200, "")
		// One may leave instead of accepting.
		want(t, s.do(t, q.Token, "DELETE", "/api/v1/me", map[string]any{"password": q.Password}), 204, "")
		want(t, s.do(t, p.Token, "POST", "/api/v1/policy/accept", map[string]any{"version": "1.1"}), 409, "policy_version_mismatch")
		want(t, s.do(t, p.Token, "POST", "/api/v1/policy/accept", map[string]any{"version": "2"}), 204, "")
		want(t, s.do(t, p.Token, "GET", "/api/v1/contacts", nil), 200, "")
		cs := s.do(t, p.Token, "GET", "/api/v1/me/consents", nil).JSON(t)["consents"].([]any)
		last := cs[len(cs)-1].(map[string]any)
		if last["kind"] != "policy" || last["subject"] != "2" || last["granted"] != true {
			t.Errorf("last ledger entry = %v, want the acceptance of version 2", last)
		}
		// New registrations must accept version 2.
		phone := newPhone()
		r := s.do(t, "", "POST", "/api/v1/accounts", map[string]any{"phone": phone, "code": s.code(t, phone, "register"), "username": newUsername("new"),
			"password": goodPassword, "nickname": "N", "policy_version": "1", "device": map[string]string{"id": "d"}})
		want(t, r, 409, "policy_acceptance_required")
	})
}

// R-MIN-1: a minor's account exists but cannot chat or post until a guardian
// confirms with a code sent to the guardian's phone; the consent is on the ledger.
func TestMinorNeedsGuardian(t *testing.T) {
	s := startServer(t, "sqlite")
	friend := s.register(t, "Friend")
	phone := newPhone()
	birth := time.Now().AddDate(-10, 0, 0).Format("2006-01-02")
	r := s.do(t, "", "POST", "/api/v1/accounts", map[string]any{"phone": phone, "code": s.code(t, phone, "register"), "username": newUsername("kid"),
		"password": goodPassword, "nickname": "Kid", "policy_version": "1", "birth_date": birth, "device": map[string]string{"id": "tablet"}})
	want(t, r, 201, "")
	kid := person{ID: r.JSON(t)["user"].(map[string]any)["id"].(string), Token: r.str(t, "token"), Phone: phone}
	if st := r.JSON(t)["user"].(map[string]any)["status"]; st != "pending_guardian" {
		t.Fatalf("a 10-year-old's status = %v, want pending_guardian", st)
	}
	want(t, s.do(t, kid.Token, "POST", "/api/v1/friend-requests", map[string]any{"to": friend.ID}), 403, "guardian_consent_required")
	want(t, s.do(t, kid.Token, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "name": "x", "members": []string{}}), 403, "guardian_consent_required")
	if st := s.do(t, kid.Token, "GET", "/api/v1/me/settings", nil).JSON(t)["default_post_visibility"]; st != "private" {
		t.Errorf("a minor's default post visibility = %v, want private", st)
	}
	want(t, s.do(t, kid.Token, "POST", "/api/v1/me/guardian", map[string]any{"phone": phone}), 422, "guardian_phone_is_own")
	guardian := newPhone()
	want(t, s.do(t, kid.Token, "POST", "/api/v1/me/guardian", map[string]any{"phone": guardian}), 202, "")
	code := s.SMS.Last(guardian, "guardian")
	if code == "" {
		t.Fatal("no code reached the guardian's phone")
	}
	want(t, s.do(t, kid.Token, "POST", "/api/v1/me/guardian/confirm", map[string]any{"phone": guardian, "code": wrong(code)}), 422, "code_mismatch")
	want(t, s.do(t, kid.Token, "POST", "/api/v1/me/guardian/confirm", map[string]any{"phone": guardian, "code": code}), 204, "")
	want(t, s.do(t, kid.Token, "POST", "/api/v1/friend-requests", map[string]any{"to": friend.ID}), 201, "")
	cs := s.do(t, kid.Token, "GET", "/api/v1/me/consents", nil).JSON(t)["consents"].([]any)
	g := cs[len(cs)-1].(map[string]any)
	if g["kind"] != "guardian" || g["granted"] != true || strings.Contains(g["subject"].(string), guardian[3:]) {
		t.Errorf("guardian consent = %v; want a guardian entry that does not spell out the guardian's number", g)
	}
	want(t, s.do(t, kid.Token, "POST", "/api/v1/me/guardian", map[string]any{"phone": guardian}), 409, "guardian_not_needed")
	// An adult is never asked.
	adult := s.register(t, "Adult")
	want(t, s.do(t, adult.Token, "POST", "/api/v1/me/guardian", map[string]any{"phone": guardian}), 409, "guardian_not_needed")
}

// R-RGT-2, R-RGT-3: rights requests are tracked with a 30-day deadline,
// identity re-verified, free, and limited when repeated without reason;
// staff move them on and a refusal needs a reason.
func TestRightsRequests(t *testing.T) {
	s := startServer(t, "sqlite")
	p, other := s.register(t, "Asker"), s.register(t, "Other")
	r := s.do(t, p.Token, "POST", "/api/v1/me/rights-requests", map[string]any{"kind": "correction", "details": "My birth date is wrong in your records"})
	want(t, r, 201, "")
	req := r.JSON(t)
	received, _ := time.Parse(time.RFC3339, req["received_at"].(string))
	due, _ := time.Parse(time.RFC3339, req["due_at"].(string))
	if req["status"] != "received" || due.Sub(received) != 30*24*time.Hour {
		t.Fatalf("new request = %v; want received, due 30 days later", req)
	}
	id := req["id"].(string)
	code := s.awaitCode(t, p.Phone, "step_up")
	if code == "" {
		t.Fatal("no verification code reached the phone on file")
	}
	want(t, s.do(t, other.Token, "POST", "/api/v1/me/rights-requests/"+id+"/verify", map[string]any{"code": code}), 404, "not_found")
	want(t, s.do(t, p.Token, "POST", "/api/v1/me/rights-requests/"+id+"/verify", map[string]any{"code": wrong(code)}), 422, "code_mismatch")
	v := s.do(t, p.Token, "POST", "/api/v1/me/rights-requests/"+id+"/verify", map[string]any{"code": code})
	want(t, v, 200, "")
	if v.str(t, "status") != "identity_verified" {
		t.Errorf("after verification, status = %q", v.str(t, "status"))
	}
	// The same request again within 30 days is refused with the date it may be asked again.
	rep := s.do(t, p.Token, "POST", "/api/v1/me/rights-requests", map[string]any{"kind": "correction", "details": "my BIRTH date is wrong in your records"})
	want(t, rep, 429, "repeated_request")
	if !strings.Contains(rep.str(t, "detail"), due.Format("2006-01-02")) || rep.Header.Get("Retry-After") == "" {
		t.Errorf("repeat answer = %s (Retry-After %q); want the date it may be asked again", rep.Body, rep.Header.Get("Retry-After"))
	}
	// A different request is fine.
	want(t, s.do(t, p.Token, "POST", "/api/v1/me/rights-requests", map[string]any{"kind": "explanation", "details": "Why was my login blocked?"}), 201, "")
	withApp(t, s, func(a *app.App) {
		ctx := context.Background()
		if _, err := a.Service.AdvanceRightsRequest(ctx, id, "refused", ""); err == nil {
			t.Error("a refusal without a reason was accepted")
		}
		if _, err := a.Service.AdvanceRightsRequest(ctx, id, "in_progress", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Service.AdvanceRightsRequest(ctx, id, "done", "Corrected to the date on your ID."); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Service.AdvanceRightsRequest(ctx, id, "in_progress", ""); err == nil {
			t.Error("a done request moved back")
		}
	})
	list := s.do(t, p.Token, "GET", "/api/v1/me/rights-requests", nil).JSON(t)["requests"].([]any)
	var done map[string]any
	for _, x := range list {
		if x.(map[string]any)["id"] == id {
			done = x.(map[string]any)
		}
	}
	if done["status"] != "done" || done["answer"] != "Corrected to the date on your ID." {
		t.Errorf("the request as the person sees it = %v", done)
	}
	want(t, s.do(t, p.Token, "POST", "/api/v1/me/rights-requests", map[string]any{"kind": "gossip", "details": "x"}), 422, "invalid_kind")
	want(t, s.do(t, p.Token, "POST", "/api/v1/me/rights-requests", map[string]any{"kind": "access", "details": " "}), 422, "invalid_details")
}

// R-RGT-2 on both backends: verification moves a request on (PostgreSQL
// once typed a bare CASE parameter as int4 here).
func TestRightsRequestVerifiesOnEveryBackend(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		p := s.register(t, "Asker")
		r := s.do(t, p.Token, "POST", "/api/v1/me/rights-requests", map[string]any{"kind": "access", "details": "my login history"})
		want(t, r, 201, "")
		v := s.do(t, p.Token, "POST", "/api/v1/me/rights-requests/"+r.str(t, "id")+"/verify", map[string]any{"code": s.awaitCode(t, p.Phone, "step_up")})
		want(t, v, 200, "")
		if v.str(t, "status") != "identity_verified" || v.str(t, "verified_at") == "" {
			t.Errorf("verified request = %s", v.Body)
		}
	})
}
