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

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/sqlite"
)

// indexed counts the search index's entries, a token and a message each,
// of message seq of conv (seq nil: of all its messages), reading the
// posting lists as the store wrote them (store/postings.go).
func indexed(t *testing.T, db *sql.DB, b backend, conv string, seq any) int {
	t.Helper()
	return indexedWhere(t, db, func(c string, s int64) bool {
		return c == conv && (seq == nil || fmt.Sprint(s) == fmt.Sprint(seq))
	})
}

// indexedWhere counts the index entries of the messages keep selects.
func indexedWhere(t *testing.T, db *sql.DB, keep func(conv string, seq int64) bool) int {
	t.Helper()
	items := map[int64]map[int]bool{}
	rows, err := db.Query(`SELECT batch, msgs FROM search_batches`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var batch int64
		var msgs []byte
		if err := rows.Scan(&batch, &msgs); err != nil {
			t.Fatal(err)
		}
		convs, seqs, err := store.DecodeIndexBatch(msgs)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		for i, c := range convs {
			if c != "" && keep(c, seqs[i]) {
				if items[batch] == nil {
					items[batch] = map[int]bool{}
				}
				items[batch][i] = true
			}
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	n := 0
	rows, err = db.Query(`SELECT batch, items FROM search_postings`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var batch int64
		var list []byte
		if err := rows.Scan(&batch, &list); err != nil {
			t.Fatal(err)
		}
		if items[batch] == nil {
			continue
		}
		its, err := store.DecodeIndexItems(list)
		if err != nil {
			t.Fatalf("posting list of batch %d: %v", batch, err)
		}
		for _, i := range its {
			if items[batch][i] {
				n++
			}
		}
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
		if b == "sqlite" { // the index file's position in the log (issue 17)
			q = `SELECT COUNT(*) FROM messages WHERE rowid > (SELECT pos FROM search.search_state)`
		}
		var behind int
		if err := check.QueryRow(q).Scan(&behind); err != nil {
			t.Fatal(err)
		}
		if behind != 0 {
			t.Errorf("%d conversations still wait for the indexer after a search", behind)
		}
	})
}

// count runs a COUNT(*) query with one argument on the check connection.
func count(t *testing.T, db *sql.DB, b backend, q string, arg any) int {
	t.Helper()
	if b == "postgres" {
		q = strings.ReplaceAll(q, "?", "$1")
	}
	var n int
	if err := db.QueryRow(q, arg).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// R-MSG-6, issue 17: the index has no foreign key to cascade from (schema
// 0057 stores it in its key for cheaper indexing), so a group deleted when
// its last member leaves takes its messages' index rows, and the token
// lists they are removed by, with it.
func TestSearchIndexLeavesWithItsGroup(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, d := s.register(t, "Ann"), s.register(t, "Dee")
		g := s.group(t, a, "Kilimanjaro climbers", d)
		m := s.send(t, a, g, "Kilimanjaro trip on Saturday")
		check := openStoreForCheck(t, b, s)
		sent := time.Now()
		for indexed(t, check, b, g, m["seq"]) == 0 {
			if time.Since(sent) > time.Second {
				t.Fatal("the message is not in the search index 1 s after its 201")
			}
			time.Sleep(10 * time.Millisecond)
		}
		r := s.do(t, d.Token, "GET", "/api/v1/search?q=kilim", nil)
		want(t, r, 200, "")
		if got := r.JSON(t)["messages"].([]any); len(got) != 1 {
			t.Fatalf("Dee finds %d messages with 'kilim' before leaving, want 1", len(got))
		}
		want(t, s.do(t, d.Token, "DELETE", "/api/v1/conversations/"+g+"/members/"+d.ID, nil), 204, "")
		want(t, s.do(t, a.Token, "DELETE", "/api/v1/conversations/"+g+"/members/"+a.ID, nil), 204, "")
		if n := count(t, check, b, `SELECT COUNT(*) FROM conversations WHERE id = ?`, g); n != 0 {
			t.Fatal("the group is still there after its last member left: the test cannot check its index")
		}
		// On SQLite the index file's rows go with the indexer's next pass
		// (issue 17), within a second; on PostgreSQL with the group.
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			rows := indexed(t, check, b, g, nil)
			lists := count(t, check, b, `SELECT COUNT(*) FROM search_message_tokens WHERE conv_id = ?`, g)
			if rows == 0 && lists == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d index rows and %d token lists of the deleted group remain 2 s later, want none", rows, lists)
			}
		}
	})
}

// Issue 17, R-MSG-6: an install upgraded from the index of schema 0003
// (one row per token, conversation and message, 32-byte hashes) in place:
// migration 0057 drops the old rows, which cannot be converted, and the
// indexer indexes every stored message again; the first search after the
// restart already finds what was sent before it. On SQLite the upgrade is
// from the index in tkesj.db (schema 0057) to its own file (schema 0060):
// the old tables go, and the new file is built from the messages.
func TestSearchIndexRebuiltOnUpgrade(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c := s.register(t, "Ann"), s.register(t, "Cai")
		s.befriend(t, a, c)
		conv := s.direct(t, a, c)
		for i := range 3 {
			s.send(t, a, conv, fmt.Sprintf("Serengeti photos, part %d", i))
		}
		s.stop()

		// The database as the previous release left it: the old table, with
		// a row of the old shape, and migration 0057 not applied.
		var db *sql.DB
		var err error
		blob := "BLOB"
		if b == "sqlite" {
			db, err = sql.Open("sqlite", "file:"+filepath.Join(s.Data, "tkesj.db"))
		} else {
			db, err = sql.Open("pgx", s.cfg.DB)
			blob = "BYTEA"
		}
		if err != nil {
			t.Fatal(err)
		}
		stmts := []string{
			`DROP TABLE search_postings`,
			`DROP TABLE search_batches`,
			`DROP TABLE search_message_tokens`,
			`CREATE TABLE search_tokens (token ` + blob + ` NOT NULL, conv_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
				seq BIGINT NOT NULL, PRIMARY KEY (token, conv_id, seq))`,
			`CREATE INDEX search_tokens_message ON search_tokens (conv_id, seq)`,
			`DELETE FROM schema_migrations WHERE version IN (57, 61)`,
		}
		oldRow := `INSERT INTO search_tokens (token, conv_id, seq) VALUES (` + ph(b, 1) + `, ` + ph(b, 2) + `, 1)`
		if b == "sqlite" {
			// SQLite's index left the database for a file of its own
			// (schema 0060): the database as the release before that left
			// it, with the index (schema 0057) in it and no index file.
			stmts = []string{
				`CREATE TABLE search_tokens (token BLOB NOT NULL, sent_at INTEGER NOT NULL, conv_id TEXT NOT NULL, seq INTEGER NOT NULL,
					PRIMARY KEY (token, sent_at, conv_id, seq)) WITHOUT ROWID`,
				`CREATE TABLE search_message_tokens (conv_id TEXT NOT NULL, seq INTEGER NOT NULL, sent_at INTEGER NOT NULL, tokens BLOB NOT NULL,
					PRIMARY KEY (conv_id, seq)) WITHOUT ROWID`,
				`CREATE INDEX conversations_unindexed ON conversations (id) WHERE last_seq > indexed_seq`,
				`DROP TABLE search_unindex`,
				`DELETE FROM schema_migrations WHERE version = 60`,
			}
			oldRow = `INSERT INTO search_tokens (token, sent_at, conv_id, seq) VALUES (?, 0, ?, 1)`
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(sqlite.SearchPath(filepath.Join(s.Data, "tkesj.db")) + suffix)
			}
		}
		for _, stmt := range stmts {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		if _, err := db.Exec(oldRow, make([]byte, 32), conv); err != nil {
			t.Fatal(err)
		}
		db.Close()

		s = s.restart(t)
		r := s.do(t, c.Token, "GET", "/api/v1/search?q=serengeti", nil)
		want(t, r, 200, "")
		if got := r.JSON(t)["messages"].([]any); len(got) != 3 {
			t.Errorf("Cai finds %d messages with 'serengeti' right after the upgrade, want the 3 sent before it", len(got))
		}
		check := openStoreForCheck(t, b, s)
		if n := count(t, check, b, `SELECT COUNT(*) FROM search_message_tokens WHERE conv_id = ?`, conv); n != 3 {
			t.Errorf("%d messages have token lists after the upgrade, want 3", n)
		}
		if n := indexed(t, check, b, conv, nil); n == 0 {
			t.Error("the messages sent before the upgrade have no posting-list entries")
		}
		if b == "postgres" {
			if n := count(t, check, b, `SELECT COUNT(*) FROM information_schema.tables WHERE table_name = ?`, "search_tokens"); n != 0 {
				t.Error("the old index table search_tokens is still there after the upgrade")
			}
		}
		if b == "sqlite" {
			if n := count(t, check, b, `SELECT COUNT(*) FROM main.sqlite_master WHERE name IN ('search_tokens', 'search_message_tokens', ?)`, "-"); n != 0 {
				t.Errorf("%d index tables are still in tkesj.db after the upgrade, want none (they are in the index file)", n)
			}
		}
	})
}

// R-MSG-6, issue 17: the index holds only some prefix lengths, so a query
// word is looked up by a shorter prefix and the decrypted text decides.
// A match older than more than a page of candidates that only share the
// prefix ("satisfied" for "satu") is still found, and they are not.
func TestSearchReadsPastPrefixCandidates(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c := s.register(t, "Ann"), s.register(t, "Cai")
		s.befriend(t, a, c)
		conv := s.direct(t, a, c)
		old := s.send(t, a, conv, "Saturn rises at nine")
		for i := range 130 {
			s.send(t, c, conv, fmt.Sprintf("satisfied customer %d", i))
		}
		r := s.do(t, a.Token, "GET", "/api/v1/search?q=satu", nil)
		want(t, r, 200, "")
		got := r.JSON(t)["messages"].([]any)
		if len(got) != 1 || got[0].(map[string]any)["seq"] != old["seq"] {
			t.Errorf("Ann's search for 'satu' = %d messages, want only the Saturn one behind 130 'satisfied' ones", len(got))
		}
		r = s.do(t, a.Token, "GET", "/api/v1/search?q="+url.QueryEscape("satisf cust"), nil)
		want(t, r, 200, "")
		if got := r.JSON(t)["messages"].([]any); len(got) != 50 {
			t.Errorf("'satisf cust' finds %d messages, want the first 50 of 130", len(got))
		}
	})
}

// R-MSG-5, R-MSG-6, issue 17: a message recalled after it was indexed
// leaves the index: on PostgreSQL in the recall's transaction, on SQLite
// (whose index is a file of its own) with the indexer's next pass, woken by
// the recall. A search never shows it meanwhile.
func TestRecalledMessageLeavesTheIndex(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, c := s.register(t, "Ann"), s.register(t, "Cai")
		s.befriend(t, a, c)
		conv := s.direct(t, a, c)
		check := openStoreForCheck(t, b, s)
		m := s.send(t, a, conv, "the Ngorongoro crater plan")
		for deadline := time.Now().Add(2 * time.Second); indexed(t, check, b, conv, m["seq"]) == 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the message is not in the search index 2 s after its 201")
			}
		}
		want(t, s.do(t, a.Token, "POST", fmt.Sprintf("/api/v1/conversations/%s/messages/%v/recall", conv, m["seq"]), nil), 204, "")
		r := s.do(t, c.Token, "GET", "/api/v1/search?q=ngorongoro", nil)
		want(t, r, 200, "")
		if got := r.JSON(t)["messages"].([]any); len(got) != 0 {
			t.Errorf("Cai finds the recalled message: %v", got)
		}
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			rows := indexed(t, check, b, conv, m["seq"])
			lists := count(t, check, b, `SELECT COUNT(*) FROM search_message_tokens WHERE conv_id = ?`, conv)
			if rows == 0 && lists == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("2 s after the recall its message has %d index rows and %d token lists, want none", rows, lists)
			}
		}
	})
}
