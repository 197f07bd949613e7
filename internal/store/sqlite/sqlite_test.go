package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

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
