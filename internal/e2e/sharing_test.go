package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/service"
)

// recipientServer is a recipient's endpoint: it checks every webhook's
// signature and keeps what arrived. failFirst deletion notices are answered
// 503 before it acknowledges.
type recipientServer struct {
	*httptest.Server
	secret string

	mu         sync.Mutex
	failFirst  int
	deliveries []map[string]any
	notices    []map[string]any
	badSigs    int
	attempts   int
}

func newRecipientServer(t *testing.T, secret string, failFirst int) *recipientServer {
	rs := &recipientServer{secret: secret, failFirst: failFirst}
	rs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte(rs.secret))
		m.Write(body)
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if !hmac.Equal([]byte(r.Header.Get("X-Tkesj-Signature")), []byte("sha256="+hex.EncodeToString(m.Sum(nil)))) {
			rs.badSigs++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var v map[string]any
		json.Unmarshal(body, &v)
		switch r.URL.Path {
		case "/deliver":
			rs.deliveries = append(rs.deliveries, v)
		case "/delete":
			rs.attempts++
			if rs.attempts <= rs.failFirst {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			rs.notices = append(rs.notices, v)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rs.Close)
	return rs
}

func (rs *recipientServer) got() (deliveries, notices []map[string]any, attempts, badSigs int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]map[string]any(nil), rs.deliveries...), append([]map[string]any(nil), rs.notices...), rs.attempts, rs.badSigs
}

// waitFor polls cond for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fastNotices(c *app.Config) {
	c.Service.NoticeRetryBase = 20 * time.Millisecond
	c.Service.NoticePoll = 50 * time.Millisecond
}

// share calls the one function through which data leaves tkesj for a
// recipient, as a feature of the service does.
func share(t *testing.T, s *server, userID, recipientID, purpose string, cats []string, payload any) error {
	t.Helper()
	var err error
	withApp(t, s, func(a *app.App) {
		_, err = a.Service.Share(context.Background(), userID, recipientID, purpose, cats, payload)
	})
	return err
}

func recordsOf(t *testing.T, s *server, p person) []map[string]any {
	t.Helper()
	r := s.do(t, p.Token, "GET", "/api/v1/me/sharing", nil)
	want(t, r, 200, "")
	return entries(t, r, "records")
}

// R-SHR-1, R-SHR-2, R-SHR-3, R-XBT-1, R-DEL-4: nothing goes to a recipient
// without the person's consent for that recipient and purpose (and, abroad,
// the separate cross-border consent); every transfer and refusal is in the
// person's transparency report; deleting shared data and destroying the
// account send signed deletion notices, retried until acknowledged.
func TestRecipientsSharingAndDeletionNotices(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b, fastNotices)
		officer := s.staff(t, service.RolePrivacyOfficer)
		p, q := s.register(t, "Sharer"), s.register(t, "Bystander")

		partnerHook := newRecipientServer(t, "partner-secret-0123456789", 0)
		sdkHook := newRecipientServer(t, "sdk-secret-0123456789abcdef", 2)
		const partnerPurpose, sdkPurpose = "customer service for tkesj accounts", "push notifications through the phone maker's service"
		add := func(body map[string]any) map[string]any {
			r := s.do(t, officer.Token, "POST", "/api/v1/admin/recipients", body)
			want(t, r, 201, "")
			return r.JSON(t)
		}
		want(t, s.do(t, p.Token, "POST", "/api/v1/admin/recipients", map[string]any{}), 403, "forbidden")
		partner := add(map[string]any{"kind": "partner", "name": "Helpdesk Partner", "purpose": partnerPurpose, "categories": []string{"nickname", "username"},
			"region": "CN", "deletion_url": partnerHook.URL + "/delete", "delivery_url": partnerHook.URL + "/deliver", "secret": partnerHook.secret})
		sdk := add(map[string]any{"kind": "sdk", "name": "Push SDK", "purpose": sdkPurpose, "categories": []string{"device_model"},
			"region": "EU", "deletion_url": sdkHook.URL + "/delete", "secret": sdkHook.secret})
		partnerID, sdkID := partner["id"].(string), sdk["id"].(string)
		if partner["secret"] != partnerHook.secret {
			t.Errorf("created recipient answers secret %v, want the one given", partner["secret"])
		}

		// R-SHR-1: no consent, no transfer.
		err := share(t, s, p.ID, partnerID, partnerPurpose, []string{"nickname"}, map[string]any{"nickname": "Sharer"})
		if tkesj.ErrorCode(err) != "sharing_not_permitted" {
			t.Fatalf("Share without consent = %v, want sharing_not_permitted", err)
		}
		want(t, s.do(t, p.Token, "PUT", "/api/v1/me/sharing/"+partnerID, map[string]any{"granted": true}), 200, "")
		want(t, s.do(t, p.Token, "PUT", "/api/v1/me/sharing/r_nope", map[string]any{"granted": true}), 404, "not_found")
		for _, c := range []struct {
			name, purpose string
			cats          []string
		}{
			{"another purpose", "advertising", []string{"nickname"}},
			{"a category not registered", partnerPurpose, []string{"phone"}},
		} {
			if err := share(t, s, p.ID, partnerID, c.purpose, c.cats, "x"); tkesj.ErrorCode(err) != "sharing_not_permitted" {
				t.Errorf("Share with %s = %v, want sharing_not_permitted", c.name, err)
			}
		}
		if err := share(t, s, p.ID, partnerID, partnerPurpose, []string{"nickname"}, map[string]any{"nickname": "Sharer"}); err != nil {
			t.Fatalf("Share with consent = %v", err)
		}
		// Someone else's consent is not this person's.
		if err := share(t, s, q.ID, partnerID, partnerPurpose, []string{"nickname"}, "x"); tkesj.ErrorCode(err) != "sharing_not_permitted" {
			t.Errorf("Share of a person who did not consent = %v, want sharing_not_permitted", err)
		}
		deliveries, _, _, bad := partnerHook.got()
		if len(deliveries) != 1 || bad != 0 {
			t.Fatalf("partner got %d deliveries (%d with bad signatures), want 1", len(deliveries), bad)
		}
		if d := deliveries[0]; d["subject"] == "" || strings.Contains(mustJSON(d), p.ID) || d["purpose"] != partnerPurpose {
			t.Errorf("delivery = %v: want a pseudonymous subject, never the person's id, and the purpose", d)
		}

		// R-XBT-1: a recipient in another region needs the separate consent.
		want(t, s.do(t, p.Token, "PUT", "/api/v1/me/sharing/"+sdkID, map[string]any{"granted": true}), 200, "")
		if err := share(t, s, p.ID, sdkID, sdkPurpose, []string{"device_model"}, "Pixel"); tkesj.ErrorCode(err) != "cross_border_consent_required" {
			t.Fatalf("Share abroad without cross-border consent = %v, want cross_border_consent_required", err)
		}
		want(t, s.do(t, p.Token, "PUT", "/api/v1/me/sharing/"+partnerID+"/cross-border", map[string]any{"granted": true}), 422, "not_cross_border")
		want(t, s.do(t, p.Token, "PUT", "/api/v1/me/sharing/"+sdkID+"/cross-border", map[string]any{"granted": true}), 200, "")
		if err := share(t, s, p.ID, sdkID, sdkPurpose, []string{"device_model"}, "Pixel"); err != nil {
			t.Fatalf("Share abroad with both consents = %v", err)
		}
		// Withdrawal stops future transfers.
		want(t, s.do(t, p.Token, "PUT", "/api/v1/me/sharing/"+partnerID, map[string]any{"granted": false}), 200, "")
		if err := share(t, s, p.ID, partnerID, partnerPurpose, []string{"nickname"}, "x"); tkesj.ErrorCode(err) != "sharing_not_permitted" {
			t.Errorf("Share after withdrawal = %v, want sharing_not_permitted", err)
		}

		// R-SHR-2: the transparency report.
		rep := s.do(t, p.Token, "GET", "/api/v1/me/sharing", nil)
		want(t, rep, 200, "")
		if rep.JSON(t)["region"] != "CN" {
			t.Errorf("report region = %v, want CN", rep.JSON(t)["region"])
		}
		for _, r := range entries(t, rep, "recipients") {
			switch r["id"] {
			case partnerID:
				if r["consent"].(map[string]any)["granted"] != false || r["cross_border"] != false {
					t.Errorf("partner in report = %v, want consent withdrawn, not cross-border", r)
				}
			case sdkID:
				if r["consent"].(map[string]any)["granted"] != true || r["cross_border_consent"].(map[string]any)["granted"] != true {
					t.Errorf("sdk in report = %v, want both consents granted", r)
				}
			}
			if _, ok := r["deletion_url"]; ok {
				t.Errorf("report shows a recipient's webhook: %v", r)
			}
		}
		sent, refused := map[string]map[string]any{}, map[string]int{}
		for _, r := range recordsOf(t, s, p) {
			if r["status"] == "sent" {
				sent[r["recipient_id"].(string)] = r
			} else {
				refused[r["refusal"].(string)]++
			}
		}
		if len(sent) != 2 || sent[partnerID]["basis"] != "consent" || sent[partnerID]["purpose"] != partnerPurpose || sent[sdkID]["recipient_name"] != "Push SDK" {
			t.Errorf("sent records = %v, want one per recipient with basis, purpose and name", sent)
		}
		if refused["sharing_not_permitted"] != 4 || refused["cross_border_consent_required"] != 1 {
			t.Errorf("refused records = %v, want 4 sharing_not_permitted and 1 cross_border_consent_required", refused)
		}
		if n := len(recordsOf(t, s, q)); n != 1 {
			t.Errorf("the bystander's report has %d records, want their one refusal", n)
		}
		ledger := s.do(t, p.Token, "GET", "/api/v1/me/consents", nil).JSON(t)["consents"].([]any)
		kinds := map[string]int{}
		for _, c := range ledger {
			kinds[c.(map[string]any)["kind"].(string)]++
		}
		if kinds["sharing"] != 3 || kinds["cross_border"] != 1 {
			t.Errorf("ledger kinds = %v, want 3 sharing entries and 1 cross_border", kinds)
		}

		// R-SHR-3: deleting shared data tells the recipient, signed.
		r := s.do(t, p.Token, "DELETE", "/api/v1/me/sharing/"+partnerID+"/data", nil)
		want(t, r, 202, "")
		if r.JSON(t)["transfers"] != float64(1) {
			t.Errorf("deletion covers %v transfers, want 1", r.JSON(t)["transfers"])
		}
		waitFor(t, "the partner's deletion notice", func() bool { _, n, _, _ := partnerHook.got(); return len(n) == 1 })
		_, notices, _, _ := partnerHook.got()
		if n := notices[0]; n["reason"] != "data_deleted" || n["subject"] != deliveries[0]["subject"] || len(n["records"].([]any)) != 1 {
			t.Errorf("notice = %v, want reason data_deleted about the subject the delivery named", n)
		}
		waitFor(t, "the acknowledgement in the report", func() bool {
			var d map[string]any
			for _, x := range recordsOf(t, s, p) {
				if x["recipient_id"] == partnerID && x["status"] == "sent" {
					d, _ = x["deletion"].(map[string]any)
				}
			}
			return d != nil && d["acked_at"] != nil && d["attempts"] == float64(1)
		})

		// R-DEL-4: destroying the account tells every recipient that got
		// data; the one that fails twice is retried until it acknowledges.
		want(t, s.do(t, p.Token, "DELETE", "/api/v1/me", map[string]any{"password": p.Password}), 204, "")
		waitFor(t, "the SDK's deletion notice after two failures", func() bool { _, n, _, _ := sdkHook.got(); return len(n) == 1 })
		_, sdkNotices, attempts, bad := sdkHook.got()
		if attempts != 3 || bad != 0 || sdkNotices[0]["reason"] != "account_destroyed" {
			t.Errorf("sdk: %d attempts, %d bad signatures, notice %v; want 3 attempts, the third acknowledged, reason account_destroyed", attempts, bad, sdkNotices[0])
		}
		if _, n, _, _ := partnerHook.got(); len(n) != 1 {
			t.Errorf("the partner, already told, got %d notices, want still 1", len(n))
		}
		admin := s.staff(t, service.RoleAdmin)
		waitFor(t, "the acknowledged record, about nobody any more", func() bool {
			recs := entries(t, s.do(t, admin.Token, "GET", "/api/v1/admin/sharing-records?recipient="+sdkID, nil), "records")
			for _, x := range recs {
				if x["status"] != "sent" {
					continue
				}
				d, _ := x["deletion"].(map[string]any)
				return d != nil && d["acked_at"] != nil && d["attempts"] == float64(3) && x["user_id"] == nil
			}
			return false
		})
	})
}

// R-SHR-1, R-LEG-1: staff may share without consent only under a legal
// ground with a reference; the person sees it in the report and the access log.
func TestDisclosureUnderLegalBasis(t *testing.T) {
	s := startServer(t, "sqlite")
	officer, support := s.staff(t, service.RolePrivacyOfficer), s.staff(t, service.RoleSupport)
	p := s.register(t, "Subject")
	hook := newRecipientServer(t, "authority-secret-0123456789", 0)
	rc := s.do(t, officer.Token, "POST", "/api/v1/admin/recipients", map[string]any{"kind": "partner", "name": "Court registry",
		"purpose": "answering court orders about accounts", "categories": []string{"username"}, "region": "CN",
		"deletion_url": hook.URL + "/delete", "delivery_url": hook.URL + "/deliver", "secret": hook.secret})
	want(t, rc, 201, "")
	body := map[string]any{"user_id": p.ID, "recipient_id": rc.str(t, "id"), "categories": []string{"username"},
		"ground": "criminal_investigation", "reference": "case 2026-17", "data": map[string]any{"username": p.Username}}
	want(t, s.do(t, support.Token, "POST", "/api/v1/admin/disclosures", body), 403, "forbidden")
	body["reference"] = ""
	want(t, s.do(t, officer.Token, "POST", "/api/v1/admin/disclosures", body), 422, "reference_required")
	body["reference"] = "case 2026-17"
	want(t, s.do(t, officer.Token, "POST", "/api/v1/admin/disclosures", body), 201, "")
	recs := recordsOf(t, s, p)
	if len(recs) != 1 || recs[0]["basis"] != "criminal_investigation" || recs[0]["reference"] != "case 2026-17" {
		t.Errorf("records = %v, want one under criminal_investigation with its reference", recs)
	}
	found := false
	for _, e := range entries(t, s.do(t, p.Token, "GET", "/api/v1/me/access-log", nil), "entries") {
		found = found || e["ground"] == "criminal_investigation"
	}
	if !found {
		t.Error("the access log does not show the disclosure's legal ground")
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
