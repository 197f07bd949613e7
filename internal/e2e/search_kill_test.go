package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store/sqlite"
)

// Issue 17, R-MSG-6: the search indexer keeps its position with its rows
// (on SQLite in the index file's own transaction), so a server killed with
// SIGKILL while it indexes a backlog (here the whole history, after the
// index was dropped) carries on after a restart: every message ends up
// with its token list once, and the index holds exactly the rows those
// lists name, none lost and none twice.
func TestKillDuringIndexingResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	forEachBackend(t, func(t *testing.T, b backend) {
		flags := backendFlags(t, b)
		data := t.TempDir()
		p := startProc(t, nil, data, flags...)
		if b == "postgres" {
			p.cfg.DB = flags[1] // --db's value
		}
		var senders []person
		for i := range 4 {
			senders = append(senders, p.register(t, fmt.Sprintf("Sender %d", i)))
		}
		g := p.group(t, senders[0], "Index backlog", senders[1:]...)
		const each = 400
		var wg sync.WaitGroup
		for i, s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range each {
					p.send(t, s, g, fmt.Sprintf("backlog message %d from %d: alpha%d beta%d gamma%d delta epsilon zeta", j, i, j%17, j%29, j%31))
				}
			}()
		}
		wg.Wait()
		const total = 4 * each
		p.kill(t)

		// Drop the index, so the restarted server indexes the whole log.
		if b == "sqlite" {
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if err := os.Remove(sqlite.SearchPath(filepath.Join(data, "tkesj.db")) + suffix); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
		} else {
			reset := openStoreForCheck(t, b, p.server)
			for _, stmt := range []string{`DELETE FROM search_postings`, `DELETE FROM search_batches`, `DELETE FROM search_message_tokens`, `UPDATE conversations SET indexed_seq = 0`} {
				if _, err := reset.Exec(stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			reset.Close()
		}
		p.start(t)
		check := openStoreForCheck(t, b, p.server)
		lists := func() int {
			return count(t, check, b, `SELECT COUNT(*) FROM search_message_tokens WHERE conv_id = ?`, g)
		}
		var at int
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
			if at = lists(); at > 0 || time.Now().After(deadline) {
				break
			}
		}
		p.kill(t)
		check.Close()
		t.Logf("killed with %d of %d messages indexed", at, total)
		if at == 0 {
			t.Fatal("nothing was indexed 20 s after the restart")
		}

		p.start(t)
		check = openStoreForCheck(t, b, p.server)
		for deadline := time.Now().Add(30 * time.Second); lists() < total; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("30 s after the second restart %d of %d messages are indexed", lists(), total)
			}
		}
		// Each list names 8-byte keys; the index holds exactly those rows.
		want := count(t, check, b, `SELECT COALESCE(SUM(LENGTH(tokens)), 0) / 8 FROM search_message_tokens WHERE conv_id = ?`, g)
		rows := indexed(t, check, b, g, nil)
		if rows != want || rows == 0 {
			t.Errorf("%d index rows for the group, want the %d its token lists name", rows, want)
		}
		if n := lists(); n != total {
			t.Errorf("%d token lists, want one for each of the %d messages", n, total)
		}
		r := p.do(t, senders[1].Token, "GET", "/api/v1/search?q=epsilon+alpha3", nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), "alpha3") {
			t.Errorf("search after the resumed indexing: %d %s", r.Status, r.Body)
		}
	})
}
