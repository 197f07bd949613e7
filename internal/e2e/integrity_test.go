package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tkesj/tkesj/internal/app"
)

// flipByte changes one byte in the middle of a sealed column of one row in
// the server's SQLite file, as a failing disk or a careless hand would.
func flipByte(t *testing.T, s *server, table, column, key string, id any) {
	t.Helper()
	db := sideDB(t, s)
	var b []byte
	if err := db.QueryRow(`SELECT `+column+` FROM `+table+` WHERE `+key+` = ?`, id).Scan(&b); err != nil {
		t.Fatalf("read %s.%s: %v", table, column, err)
	}
	b[len(b)/2] ^= 0x20
	if _, err := db.Exec(`UPDATE `+table+` SET `+column+` = ? WHERE `+key+` = ?`, b, id); err != nil {
		t.Fatalf("write %s.%s: %v", table, column, err)
	}
}

// Issue 14 item 9: a flipped byte in a message row or in a profile is an
// integrity error that reaches the operator (an ERROR log line naming only
// ids, the tkesj_integrity_failures_total metric, /readyz "degraded"), and
// is never shown to others as a deleted account: the message reads
// "unreadable" with its sender, the peer reads "unreadable", not "deleted".
func TestFlippedByteIsAnIntegrityErrorNotADeletion(t *testing.T) {
	addr := freePort(t)
	s := startServer(t, "sqlite", func(c *app.Config) { c.MetricsAddr = addr })
	a, b := s.register(t, "Damaged Da"), s.register(t, "Reader Re")
	s.befriend(t, a, b)
	conv := s.direct(t, a, b)
	const secret = "the text on the damaged sector"
	sent := s.send(t, a, conv, secret)
	s.send(t, a, conv, "an intact one")
	if r := s.do(t, "", "GET", "/readyz", nil); r.str(t, "status") != "ready" {
		t.Fatalf("/readyz before any damage = %s", r.Body)
	}

	flipByte(t, s, "messages", "body", "id", sent["id"])
	msgs := s.messages(t, b, conv, 0)
	if len(msgs) != 2 {
		t.Fatalf("messages after the damage = %v, want both", msgs)
	}
	damaged, intact := msgs[0], msgs[1]
	if damaged["sender_deleted"] != nil || damaged["recalled"] != nil || damaged["unreadable"] != true ||
		damaged["sender_id"] != a.ID || damaged["text"] != nil {
		t.Errorf("the damaged message reads %v; want unreadable, from its sender, with no text, not sender_deleted", damaged)
	}
	if intact["text"] != "an intact one" {
		t.Errorf("the intact message beside it reads %v", intact)
	}

	flipByte(t, s, "users", "profile", "id", a.ID)
	var peer map[string]any
	for _, c := range s.do(t, b.Token, "GET", "/api/v1/conversations", nil).JSON(t)["conversations"].([]any) {
		if c := c.(map[string]any); c["id"] == conv {
			peer, _ = c["peer"].(map[string]any)
		}
	}
	if peer == nil || peer["deleted"] != nil || peer["unreadable"] != true || peer["id"] != a.ID {
		t.Errorf("the peer with a damaged profile reads %v; want unreadable with its id, not deleted", peer)
	}
	// The damaged person's own requests fail as errors, not as a deleted account.
	if r := s.do(t, a.Token, "GET", "/api/v1/me", nil); r.Status != 500 || !strings.Contains(string(r.Body), "integrity_error") {
		t.Errorf("GET /me with a damaged profile = %d %s, want 500 integrity_error", r.Status, r.Body)
	}

	// The operator hears of it: readiness, metrics and the log.
	r := s.do(t, "", "GET", "/readyz", nil)
	want(t, r, 200, "")
	var st struct {
		Status   string  `json:"status"`
		Failures float64 `json:"integrity_failures"`
		Last     string  `json:"last_integrity_failure"`
	}
	if err := json.Unmarshal(r.Body, &st); err != nil || st.Status != "degraded" || st.Failures < 2 || st.Last == "" {
		t.Errorf("/readyz after two damaged rows = %s, want degraded with at least 2 integrity failures", r.Body)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), "tkesj_integrity_failures_total ") || strings.Contains(string(m), "tkesj_integrity_failures_total 0\n") {
		t.Errorf("/metrics lacks a non-zero tkesj_integrity_failures_total:\n%s", m)
	}
	log := s.Log.String()
	if !strings.Contains(log, `"msg":"integrity failure"`) || !strings.Contains(log, sent["id"].(string)) || !strings.Contains(log, "users/"+a.ID+"/profile") {
		t.Errorf("the log does not name both damaged items by id")
	}
	for _, leak := range []string{secret, a.Phone, a.Username} {
		if strings.Contains(log, leak) {
			t.Errorf("the log holds %q", leak)
		}
	}
}
