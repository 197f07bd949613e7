package e2e

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// R-MSG-6, R-DEL-4: people search their own chats and contacts; the index
// holds no readable text and forgets recalled and destroyed people's words.
func TestSearch(t *testing.T) {
	s := startServer(t, "sqlite")
	a, c, eve := s.register(t, "Ann"), s.register(t, "Cai Lun"), s.register(t, "Eve")
	s.befriend(t, a, c)
	s.befriend(t, eve, c)
	conv := s.direct(t, a, c)
	s.send(t, a, conv, "Let's meet at the Zanzibar cafe tomorrow")
	recalled := s.send(t, a, conv, "secret Zanzibar plan")
	s.send(t, c, conv, "明天在北京见面")
	other := s.direct(t, eve, c)
	s.send(t, eve, other, "Zanzibar is Eve's word too")
	search := func(p person, q string) (msgs, contacts []any) {
		t.Helper()
		r := s.do(t, p.Token, "GET", "/api/v1/search?q="+url.QueryEscape(q), nil)
		want(t, r, 200, "")
		m := r.JSON(t)
		return m["messages"].([]any), m["contacts"].([]any)
	}
	if msgs, _ := search(a, "zanzibar CAFE"); len(msgs) != 1 || !strings.Contains(msgs[0].(map[string]any)["text"].(string), "cafe") {
		t.Errorf("Ann's search for 'zanzibar cafe' = %v", msgs)
	}
	if msgs, _ := search(a, "zanzibar"); len(msgs) != 2 {
		t.Errorf("Ann finds %d messages with 'zanzibar', want her 2 (not Eve's chat)", len(msgs))
	}
	if msgs, _ := search(c, "北京"); len(msgs) != 1 {
		t.Errorf("search for 北京 = %v", msgs)
	}
	if _, contacts := search(a, "cai"); len(contacts) != 1 {
		t.Errorf("contacts matching 'cai' = %v", contacts)
	}
	want(t, s.do(t, a.Token, "POST", fmt.Sprintf("/api/v1/conversations/%s/messages/%v/recall", conv, recalled["seq"]), nil), 204, "")
	if msgs, _ := search(c, "plan"); len(msgs) != 0 {
		t.Errorf("a recalled message is still found: %v", msgs)
	}
	want(t, s.do(t, a.Token, "DELETE", "/api/v1/me", map[string]any{"password": a.Password}), 204, "")
	if msgs, _ := search(c, "cafe"); len(msgs) != 0 {
		t.Errorf("a destroyed person's message is still found: %v", msgs)
	}
	want(t, s.do(t, c.Token, "GET", "/api/v1/search?q=", nil), 422, "invalid_query")

	// The destroyed person's words leave the index with the purge.
	check := openStoreForCheck(t, "sqlite", s)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var queued int
		check.QueryRow(`SELECT COUNT(*) FROM purges`).Scan(&queued)
		if queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the purge did not finish within 20 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.stop()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.Data, "tkesj.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	attachSearch(t, db, s.Data)
	n := indexed(t, db, "sqlite", conv, nil)
	// Only Cai's message remains indexed in that chat: 明天 天在 在北 北京 京见
	// 见面 = 6 bigrams, and its 7 characters (prefixes of bigrams, issue 15).
	if n != 13 {
		t.Errorf("%d index rows remain for the chat, want 13 (Cai's words only)", n)
	}
	files, _ := filepath.Glob(filepath.Join(s.Data, "tkesj*.db*")) // the search index's file too
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, word := range []string{"Zanzibar", "zanzibar", "北京", "tomorrow"} {
			if strings.Contains(string(b), word) {
				t.Errorf("%s holds %q in plaintext", filepath.Base(f), word)
			}
		}
	}
}
