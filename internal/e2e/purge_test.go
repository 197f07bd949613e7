package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// R-DEL-2, R-DEL-4, issue 17: the purge of a destroyed account empties the
// bodies first and then deletes the search tokens, with its progress kept
// in the database only. A server killed with SIGKILL part-way (here while
// the bodies are gone and the words are still indexed, when the timing
// allows) finishes the purge after a restart: no body, no search token and
// no pending mark of theirs is left, and their queue entry is gone, while
// the other person's message is still found.
func TestKillDuringPurgeResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		flags := backendFlags(t, b)
		p := startProc(t, nil, t.TempDir(), flags...)
		gone, stay := p.register(t, "Purged Midway"), p.register(t, "Stays")
		p.befriend(t, gone, stay)
		conv := p.direct(t, gone, stay)
		// Many distinct words a message, so un-indexing is most of the work.
		var words []string
		for i := 0; i < 60; i++ {
			words = append(words, fmt.Sprintf("word%dx", i))
		}
		text := strings.Join(words, " ")
		const n = 400
		for i := 0; i < n; i++ {
			p.send(t, gone, conv, text)
		}
		p.send(t, stay, conv, "zebracrossing stays findable")
		if b == "postgres" {
			p.cfg.DB = flags[1] // --db's value
		}
		db := openStoreForCheck(t, b, p.server)
		count := func(query string) int {
			t.Helper()
			var c int
			if err := db.QueryRow(strings.ReplaceAll(query, "$ID", "'"+gone.ID+"'")).Scan(&c); err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			return c
		}
		const (
			bodies  = `SELECT COUNT(*) FROM messages WHERE sender_id = $ID AND body IS NOT NULL`
			pending = `SELECT COUNT(*) FROM messages WHERE sender_id = $ID AND unindex_pending IS NOT NULL`
			queued  = `SELECT COUNT(*) FROM purges WHERE user_id = $ID`
		)
		// Index entries of their messages (those of the messages table).
		var theirs map[string]bool
		tokens := func() int {
			t.Helper()
			if theirs == nil {
				theirs = map[string]bool{}
				rows, err := db.Query(`SELECT conv_id, seq FROM messages WHERE sender_id = `+ph(b, 1), gone.ID)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var conv string
					var seq int64
					if err := rows.Scan(&conv, &seq); err != nil {
						t.Fatal(err)
					}
					theirs[fmt.Sprint(conv, "/", seq)] = true
				}
				if err := rows.Close(); err != nil {
					t.Fatal(err)
				}
			}
			return indexedWhere(t, db, func(conv string, seq int64) bool { return theirs[fmt.Sprint(conv, "/", seq)] })
		}
		// The search indexer follows the log: wait until their words are in.
		for deadline := time.Now().Add(20 * time.Second); tokens() < n*len(words); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("only %d of %d search tokens indexed", tokens(), n*len(words))
			}
		}
		want(t, p.do(t, gone.Token, "DELETE", "/api/v1/me", map[string]any{"password": gone.Password}), 204, "")
		midway := false
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if count(bodies) == 0 && count(pending) > 0 {
				midway = true
				break
			}
		}
		p.kill(t)
		t.Logf("killed with %d bodies, %d messages still indexed, %d search tokens and %d queue entries of theirs left (between the steps: %v)",
			count(bodies), count(pending), tokens(), count(queued), midway)
		p.start(t)
		for deadline := time.Now().Add(30 * time.Second); count(queued) > 0; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("30 s after the restart the purge is still queued: %d bodies, %d pending, %d tokens left", count(bodies), count(pending), tokens())
			}
		}
		if c, pe, tk := count(bodies), count(pending), tokens(); c != 0 || pe != 0 || tk != 0 {
			t.Errorf("after the resumed purge: %d bodies, %d pending marks, %d search tokens of theirs left; want none", c, pe, tk)
		}
		r := p.do(t, stay.Token, "GET", "/api/v1/search?q=zebracrossing", nil)
		want(t, r, 200, "")
		if !strings.Contains(string(r.Body), "zebracrossing") {
			t.Errorf("the other person's message is no longer found: %s", r.Body)
		}
	})
}
