package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/sqlite"
	"github.com/tkesj/tkesj/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) *store.DB {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tkesj.db"), 4)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tkesj.db")
	db, err := sqlite.Open(ctx, path, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(q *store.Queries) error {
		return q.CreateUser(ctx, store.UserRecord{ID: "x", UsernameIdx: []byte("u"), PhoneIdx: []byte("p"), Profile: []byte("s"), Status: "active"})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = sqlite.Open(ctx, path, 2)
	if err != nil {
		t.Fatalf("reopening (migrations must be idempotent) = %v", err)
	}
	defer db.Close()
	if _, err := db.Read().FindUserByID(ctx, "x"); err != nil {
		t.Errorf("after reopening, FindUserByID = %v", err)
	}
}

// TestMessageLookupsUseLeanIndexes: schema 0055 dropped messages_sender and
// made messages_media partial, and 0059 dropped messages_sender_live, so a
// send writes fewer B-trees (issue 17); every look-up of messages by sender
// or by media (the purge's walk over a sender's messages among them) must
// still be a search of an index, never a scan of the table.
func TestMessageLookupsUseLeanIndexes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tkesj.db")
	db, err := sqlite.Open(ctx, path, 1)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var redundant int
	if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages'
		AND (name IN ('messages_sender', 'messages_sender_live') OR name = 'messages_media' AND sql NOT LIKE '%WHERE%')`).Scan(&redundant); err != nil || redundant != 0 {
		t.Errorf("indexes a send need not write: %d (%v)", redundant, err)
	}
	for _, q := range []string{
		`SELECT 1 FROM messages WHERE sender_id = 'a' AND client_id = 'b'`,
		`SELECT COUNT(*), MAX(client_id) FROM (SELECT client_id FROM messages WHERE sender_id = 'a' AND client_id > 'k' ORDER BY client_id LIMIT 1000) b`,
		`UPDATE messages SET body = NULL WHERE sender_id = 'a' AND client_id > 'k' AND client_id <= 'l' AND (body IS NOT NULL OR media_id IS NOT NULL)`,
		`SELECT sent_at FROM messages WHERE sender_id = 'a'`,
		`SELECT COUNT(*) FROM messages WHERE media_id = 'm'`,
		`SELECT COUNT(*) FROM messages msg JOIN members mem ON mem.conv_id = msg.conv_id WHERE msg.media_id = 'm' AND mem.user_id = 'u' AND msg.seq > mem.joined_seq`,
	} {
		rows, err := raw.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") && step != "SCAN b" { // b: the batch, a subquery
				t.Errorf("%s\nplan %q scans a table", q, plan)
			}
		}
	}
}

// Issue 17: the search index's own file holds only derived data, so
// whatever is wrong with it at open is answered by building it again
// (position 0, no rows; the indexer then reads the whole log): missing,
// not a database, or following rowids that are no longer the messages'
// (a VACUUM or a restore renumbers them). A sound file is kept.
func TestSearchFileRebuiltAtOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tkesj.db")
	open := func() *store.DB {
		t.Helper()
		db, err := sqlite.Open(ctx, path, 2)
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		return db
	}
	// indexLog indexes the log's one message ("w") as the indexer would.
	indexLog := func(db *store.DB) {
		t.Helper()
		msgs, last, _, err := db.Read().LogMessages(ctx, 0, 10)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("LogMessages = %v, %v", msgs, err)
		}
		err = db.SearchIndex().Update(ctx, func(q *store.Queries) error {
			if err := q.IndexMessages(ctx, []store.IndexEntry{{ConvID: "c", Seq: 1, Tokens: [][]byte{[]byte("w")}, SentAt: msgs[0].SentAt}}); err != nil {
				return err
			}
			return q.SetSearchPosition(ctx, last)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	index := func(db *store.DB) {
		t.Helper()
		err := db.Update(ctx, func(q *store.Queries) error {
			if err := q.CreateUser(ctx, store.UserRecord{ID: "a", UsernameIdx: []byte("u"), PhoneIdx: []byte("p"), Profile: []byte("s"), Status: "active"}); err != nil {
				return err
			}
			if err := q.CreateConversation(ctx, store.ConversationRecord{ID: "c", Kind: "group"}); err != nil {
				return err
			}
			if err := q.AddMember(ctx, store.MemberRecord{ConvID: "c", UserID: "a", Role: "owner"}); err != nil {
				return err
			}
			seq, err := q.NextSeq(ctx, "c", time.Now())
			if err != nil {
				return err
			}
			return q.InsertMessage(ctx, store.MessageRecord{ConvID: "c", Seq: seq, ID: "m", SenderID: "a", ClientID: "m", Kind: "text", Body: []byte("x"), SentAt: time.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
		indexLog(db)
	}
	found := func(db *store.DB) int {
		t.Helper()
		got, err := db.Read().SearchMessages(ctx, "a", [][]byte{[]byte("w")}, 10)
		if err != nil {
			t.Fatalf("SearchMessages = %v", err)
		}
		pos, err := db.SearchIndex().Read().SearchPosition(ctx)
		if err != nil {
			t.Fatalf("SearchPosition = %v", err)
		}
		if (pos == 0) != (len(got) == 0) {
			t.Errorf("position %d with %d messages found", pos, len(got))
		}
		return len(got)
	}
	db := open()
	index(db)
	if n := found(db); n != 1 {
		t.Fatalf("found %d before any damage, want 1", n)
	}
	db.Close()
	if db = open(); found(db) != 1 {
		t.Error("a sound index file was not kept")
	}
	db.Close()

	search := sqlite.SearchPath(path)
	for _, damage := range []struct {
		name string
		do   func() error
	}{
		{"missing", func() error { return os.Remove(search) }},
		{"not a database", func() error { return os.WriteFile(search, []byte(strings.Repeat("garbage ", 1000)), 0o600) }},
		{"following other rowids", func() error {
			raw, err := sql.Open("sqlite", "file:"+search)
			if err != nil {
				return err
			}
			defer raw.Close()
			_, err = raw.Exec(`UPDATE search_state SET conv_id = 'another'`)
			return err
		}},
	} {
		for _, f := range []string{path, search} { // start afresh
			for _, suffix := range []string{"", "-wal", "-shm"} {
				os.Remove(f + suffix)
			}
		}
		db = open()
		index(db)
		db.Close()
		if err := damage.do(); err != nil {
			t.Fatalf("%s: %v", damage.name, err)
		}
		db = open()
		if n := found(db); n != 0 {
			t.Errorf("%s: the index file was kept (%d found)", damage.name, n)
		}
		// Built again from the log.
		indexLog(db)
		if n := found(db); n != 1 {
			t.Errorf("%s: %d found after indexing again, want 1", damage.name, n)
		}
		db.Close()
	}
}
