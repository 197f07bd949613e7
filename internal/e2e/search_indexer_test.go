package e2e

import (
	"database/sql"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

// indexed counts the search-index rows of message seq of conv.
func indexed(t *testing.T, db *sql.DB, b backend, conv string, seq any) int {
	t.Helper()
	q := `SELECT COUNT(*) FROM search_tokens WHERE conv_id = ? AND seq = ?`
	if b == "postgres" {
		q = `SELECT COUNT(*) FROM search_tokens WHERE conv_id = $1 AND seq = $2`
	}
	var n int
	if err := db.QueryRow(q, conv, seq).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// R-MSG-6 (issue 17): words are indexed off the send path, by an indexer
// that follows the message log; a message is in the index within a second
// of its 201 without anyone searching, and found by search.
func TestSearchIndexedWithinASecond(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c := s.register(t, "Ann"), s.register(t, "Cai")
		s.befriend(t, a, c)
		conv := s.direct(t, a, c)
		check := openStoreForCheck(t, b, s)
		for i := range 3 {
			m := s.send(t, a, conv, fmt.Sprintf("Kilimanjaro trip number %d", i))
			sent := time.Now()
			for indexed(t, check, b, conv, m["seq"]) == 0 {
				if time.Since(sent) > time.Second {
					t.Fatalf("message %v is not in the search index 1 s after its 201", m["seq"])
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		r := s.do(t, c.Token, "GET", "/api/v1/search?q="+url.QueryEscape("kilimanjaro trip"), nil)
		want(t, r, 200, "")
		if got := r.JSON(t)["messages"].([]any); len(got) != 3 {
			t.Errorf("Cai finds %d messages with 'kilimanjaro trip', want 3", len(got))
		}
	})
}

// R-MSG-5, R-MSG-6, R-DEL-4 (issue 17): a message recalled, or whose sender
// destroyed their account, before the indexer reached it is never indexed;
// what was sent just before a search is found by it (the search lets the
// indexer catch up first).
func TestSearchRecallBeforeIndex(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		// The indexer waits 10 s after a send (and looks every 50 s), so
		// nothing is indexed before the recall but by the search itself.
		s := startServer(t, b, func(c *app.Config) { c.Service.IndexDelay = 10 * time.Second })
		a, c, eve := s.register(t, "Ann"), s.register(t, "Cai"), s.register(t, "Eve")
		s.befriend(t, a, c)
		s.befriend(t, eve, c)
		conv, other := s.direct(t, a, c), s.direct(t, eve, c)
		check := openStoreForCheck(t, b, s)
		kept := s.send(t, a, conv, "the Serengeti photos")
		recalled := s.send(t, a, conv, "secret Serengeti plan")
		gone := s.send(t, eve, other, "Serengeti from Eve")
		if indexed(t, check, b, conv, kept["seq"]) != 0 {
			t.Fatal("indexed before the indexer's delay: the test cannot tell recall-before-index apart")
		}
		want(t, s.do(t, a.Token, "POST", fmt.Sprintf("/api/v1/conversations/%s/messages/%v/recall", conv, recalled["seq"]), nil), 204, "")
		want(t, s.do(t, eve.Token, "DELETE", "/api/v1/me", map[string]any{"password": eve.Password}), 204, "")
		r := s.do(t, c.Token, "GET", "/api/v1/search?q=serengeti", nil)
		want(t, r, 200, "")
		msgs := r.JSON(t)["messages"].([]any)
		if len(msgs) != 1 || msgs[0].(map[string]any)["seq"] != kept["seq"] {
			t.Errorf("Cai's search for 'serengeti' right after the sends = %v, want only the kept message", msgs)
		}
		if indexed(t, check, b, conv, kept["seq"]) == 0 {
			t.Error("the kept message is not in the index after a search")
		}
		if n := indexed(t, check, b, conv, recalled["seq"]); n != 0 {
			t.Errorf("the message recalled before indexing has %d index rows", n)
		}
		if n := indexed(t, check, b, other, gone["seq"]); n != 0 {
			t.Errorf("the message of a sender destroyed before indexing has %d index rows", n)
		}
		// The indexer has passed them: they are never indexed later.
		q := `SELECT COUNT(*) FROM conversations WHERE last_seq > indexed_seq`
		var behind int
		if err := check.QueryRow(q).Scan(&behind); err != nil {
			t.Fatal(err)
		}
		if behind != 0 {
			t.Errorf("%d conversations still wait for the indexer after a search", behind)
		}
	})
}
