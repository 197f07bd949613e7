package e2e

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/service"
)

// sideDB opens the SQLite database of a running server, as an operator (or
// a failing disk) would touch it from outside.
func sideDB(t *testing.T, s *server) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.Data, "tkesj.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Issue 14, uncovered path; R-SEC-1: a staff read of personal data is only
// served when its audit entry is written. When the audit write fails, the
// read fails and returns nothing of the person.
func TestStaffReadFailsWhenTheAuditWriteFails(t *testing.T) {
	s := startServer(t, "sqlite")
	p := s.register(t, "Audited Au")
	support := s.staff(t, service.RoleSupport)
	path := "/api/v1/admin/users/" + p.ID + "?purpose=" + strings.ReplaceAll(goodPurpose, " ", "%20")
	want(t, s.do(t, support.Token, "GET", path, nil), 200, "")

	if _, err := sideDB(t, s).Exec(`CREATE TRIGGER audit_full BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
		t.Fatal(err)
	}
	r := s.do(t, support.Token, "GET", path, nil)
	if r.Status < 500 {
		t.Errorf("staff read with the audit write failing = %d, want a server error", r.Status)
	}
	for _, secret := range []string{p.Username, p.Phone, "Audited Au"} {
		if strings.Contains(string(r.Body), secret) {
			t.Errorf("staff read with the audit write failing returned %q: %s", secret, r.Body)
		}
	}
}

// Issue 14, uncovered path; R-XBT-1: withdrawing the cross-border consent
// stops transfers abroad again, although the recipient's own consent stays.
func TestCrossBorderConsentWithdrawal(t *testing.T) {
	s := startServer(t, "sqlite", fastNotices)
	officer := s.staff(t, service.RolePrivacyOfficer)
	p := s.register(t, "Abroad Ab")
	hook := newRecipientServer(t, "sdk-secret-0123456789abcdef", 0)
	const purpose = "push notifications through the phone maker's service"
	r := s.do(t, officer.Token, "POST", "/api/v1/admin/recipients", map[string]any{"kind": "sdk", "name": "Push SDK", "purpose": purpose,
		"categories": []string{"device_model"}, "region": "EU", "deletion_url": hook.URL + "/delete", "secret": hook.secret})
	want(t, r, 201, "")
	id := r.str(t, "id")
	want(t, s.do(t, p.Token, "PUT", "/api/v1/me/sharing/"+id, map[string]any{"granted": true}), 200, "")
	want(t, s.do(t, p.Token, "PUT", "/api/v1/me/sharing/"+id+"/cross-border", map[string]any{"granted": true}), 200, "")
	if err := share(t, s, p.ID, id, purpose, []string{"device_model"}, "Pixel"); err != nil {
		t.Fatalf("Share abroad with both consents = %v", err)
	}
	want(t, s.do(t, p.Token, "PUT", "/api/v1/me/sharing/"+id+"/cross-border", map[string]any{"granted": false}), 200, "")
	if err := share(t, s, p.ID, id, purpose, []string{"device_model"}, "Pixel"); tkesj.ErrorCode(err) != "cross_border_consent_required" {
		t.Errorf("Share abroad after withdrawing the cross-border consent = %v, want cross_border_consent_required", err)
	}
	for _, rec := range entries(t, s.do(t, p.Token, "GET", "/api/v1/me/sharing", nil), "recipients") {
		if c, _ := rec["cross_border_consent"].(map[string]any); rec["id"] == id && (c == nil || c["granted"] != false) {
			t.Errorf("the report shows the withdrawn cross-border consent as %v", rec["cross_border_consent"])
		}
	}
}

// Issue 14, uncovered path; R-MOM-2: an author's "last 3 days" and "last 6
// months" ranges, end to end: a friend sees only posts inside the range the
// author chose, in the timeline and on the author's page; the author sees
// all of their own. Post ages are set in the database, as time would.
func TestMomentsRangeEndToEnd(t *testing.T) {
	s := startServer(t, "sqlite")
	author, friend := s.register(t, "Ranged Ra"), s.register(t, "Reader Re")
	s.befriend(t, author, friend)
	ages := map[string]time.Duration{"today": 0, "four days old": 4 * 24 * time.Hour, "seven months old": 7 * 30 * 24 * time.Hour}
	db := sideDB(t, s)
	for text, age := range ages {
		r := s.do(t, author.Token, "POST", "/api/v1/moments", map[string]any{"text": text, "visibility": map[string]any{"kind": "friends"}})
		want(t, r, 201, "")
		if _, err := db.Exec(`UPDATE moments SET created_at = ? WHERE id = ?`, time.Now().Add(-age).UnixMicro(), r.str(t, "id")); err != nil {
			t.Fatal(err)
		}
	}
	seen := func(p person, path string) map[string]bool {
		out := map[string]bool{}
		for _, m := range entries(t, s.do(t, p.Token, "GET", path, nil), "moments") {
			out[m["text"].(string)] = true
		}
		return out
	}
	for _, tt := range []struct {
		rng  string
		want []string
	}{
		{"3d", []string{"today"}},
		{"6m", []string{"today", "four days old"}},
		{"all", []string{"today", "four days old", "seven months old"}},
	} {
		want(t, s.do(t, author.Token, "PATCH", "/api/v1/me/settings", map[string]any{"moments_range": tt.rng}), 200, "")
		for _, path := range []string{"/api/v1/moments/timeline", "/api/v1/users/" + author.ID + "/moments"} {
			got := seen(friend, path)
			if len(got) != len(tt.want) {
				t.Errorf("range %s: the friend sees %v at %s, want %v", tt.rng, got, path, tt.want)
			}
			for _, w := range tt.want {
				if !got[w] {
					t.Errorf("range %s: the friend misses %q at %s", tt.rng, w, path)
				}
			}
		}
		if got := seen(author, "/api/v1/users/"+author.ID+"/moments"); len(got) != 3 {
			t.Errorf("range %s: the author sees %d of their own posts, want 3", tt.rng, len(got))
		}
	}
}

// Issue 14, uncovered path; R-MED-2: someone added to a group later can't
// fetch the pictures sent before they joined, only those sent after.
func TestLateGroupJoinerCannotFetchOlderMedia(t *testing.T) {
	s := startServer(t, "sqlite")
	own, mem, late := s.register(t, "Owner Ow"), s.register(t, "Member Me"), s.register(t, "Late La")
	s.befriend(t, own, mem)
	s.befriend(t, own, late)
	r := s.do(t, own.Token, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "name": "Album", "members": []string{mem.ID}})
	want(t, r, 201, "")
	g := r.str(t, "id")
	sendPicture := func(p person) string {
		up := s.upload(t, p.Token, "", "p.jpg", photoWithGPS(t, 20, 20))
		want(t, up, 201, "")
		id := up.str(t, "id")
		want(t, s.do(t, p.Token, "POST", "/api/v1/conversations/"+g+"/messages",
			map[string]any{"client_id": fmt.Sprint("pic-", id), "kind": "image", "media_id": id}), 201, "")
		return id
	}
	before := sendPicture(mem)
	want(t, s.do(t, own.Token, "POST", "/api/v1/conversations/"+g+"/members", map[string]any{"members": []string{late.ID}}), 200, "")
	after := sendPicture(mem)
	if r := s.get(t, late.Token, "/api/v1/media/"+before); r.Status != 404 {
		t.Errorf("the late joiner fetching a picture sent before they joined = %d, want 404", r.Status)
	}
	if r := s.get(t, late.Token, "/api/v1/media/"+after); r.Status != 200 {
		t.Errorf("the late joiner fetching a picture sent after they joined = %d, want 200", r.Status)
	}
	if r := s.get(t, own.Token, "/api/v1/media/"+before); r.Status != 200 {
		t.Errorf("a member from the start fetching the earlier picture = %d, want 200", r.Status)
	}
}
