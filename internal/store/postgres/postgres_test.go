package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/postgres"
	"github.com/tkesj/tkesj/internal/store/storetest"
	"github.com/tkesj/tkesj/internal/testkit"
)

// TestConformance runs the suite in one schema, migrated once and emptied
// before each case: migrating a fresh schema per case costs seconds each.
func TestConformance(t *testing.T) {
	u := testkit.PostgresSchema(t, storetest.PostgresURL(t), "t")
	storetest.Run(t, func(t *testing.T) *store.DB {
		ctx := context.Background()
		db, err := postgres.Open(ctx, u, 8) // the migrations are applied already: Open checks and skips them
		if err != nil {
			t.Fatalf("Open = %v", err)
		}
		t.Cleanup(func() { db.Close() })
		if err := emptyTables(ctx, u); err != nil {
			t.Fatalf("empty the tables: %v", err)
		}
		return db
	})
}

// OpenTestDB opens a store in a fresh schema that is dropped when the test ends,
// so tests never see each other's rows.
func OpenTestDB(t *testing.T, base string) *store.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), testkit.PostgresSchema(t, base, "t"), 8)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// emptyTables deletes every row of the schema but the migration record, in
// one transaction with triggers off (the audit log's append-only trigger,
// the foreign keys' order): TRUNCATE of every table takes seconds.
func emptyTables(ctx context.Context, u string) error {
	db, err := sql.Open("pgx", u)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(tables) == 0 {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
		return err
	}
	for _, name := range tables {
		if _, err := tx.ExecContext(ctx, `DELETE FROM "`+strings.ReplaceAll(name, `"`, ``)+`"`); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Issue 17, R-MSG-6: the indexer records its positions in one transaction
// and never waits for a conversation row a group commit holds (waiting, in
// its own order, could deadlock with the commit, which takes rows in the
// order its messages came). The held conversation's position stays where
// it was, for the next pass; the others move.
func TestSetIndexedSkipsHeldConversations(t *testing.T) {
	ctx := context.Background()
	db := OpenTestDB(t, storetest.PostgresURL(t))
	now := time.Now()
	err := db.Update(ctx, func(q *store.Queries) error {
		for _, id := range []string{"held", "free"} {
			if err := q.CreateConversation(ctx, store.ConversationRecord{ID: id, Kind: "group", CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			if _, err := q.NextSeq(ctx, id, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A group commit holds "held" (its seq taken, not yet committed).
	holding, release := make(chan struct{}), make(chan struct{})
	commit := make(chan error, 1)
	go func() {
		commit <- db.Update(ctx, func(q *store.Queries) error {
			if _, err := q.NextSeq(ctx, "held", now); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	done := make(chan error, 1)
	go func() {
		done <- db.Update(ctx, func(q *store.Queries) error {
			return q.SetIndexed(ctx, []store.IndexBacklog{{ConvID: "held", IndexedSeq: 1}, {ConvID: "free", IndexedSeq: 1}})
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("SetIndexed = %v", err)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("SetIndexed waited for the group commit's row")
	}
	close(release)
	if err := <-commit; err != nil {
		t.Fatal(err)
	}
	backlog, err := db.Read().SearchBacklog(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(backlog) != 1 || backlog[0] != (store.IndexBacklog{ConvID: "held", IndexedSeq: 0, LastSeq: 2}) {
		t.Errorf("backlog after SetIndexed = %+v, want only held, still at 0 (free moved to 1)", backlog)
	}
}

// Issue 17, R-MSG-10: two removals from one posting list at once (a recall
// on one node, a purge on another) both take effect: the list is locked
// before it is rewritten, so the second removal rewrites what the first
// left, not the list as it read it before (which would bring the first
// message's entry back).
func TestConcurrentUnindexBothTakeEffect(t *testing.T) {
	ctx := context.Background()
	db := OpenTestDB(t, storetest.PostgresURL(t))
	now := time.Now()
	var entries []store.IndexEntry
	err := db.Update(ctx, func(q *store.Queries) error {
		if err := q.CreateConversation(ctx, store.ConversationRecord{ID: "c", Kind: "group", CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		for i := range 2 {
			seq, err := q.NextSeq(ctx, "c", now)
			if err != nil {
				return err
			}
			id := fmt.Sprint("c/", seq)
			if err := q.InsertMessage(ctx, store.MessageRecord{ConvID: "c", Seq: seq, ID: id, SenderID: "a", ClientID: id, Kind: "text", Body: []byte("sealed"), SentAt: now}); err != nil {
				return err
			}
			entries = append(entries, store.IndexEntry{ConvID: "c", Seq: seq, Tokens: [][]byte{[]byte("shared"), []byte(fmt.Sprint("own", i))}, SentAt: now})
		}
		return q.IndexMessages(ctx, entries)
	})
	if err != nil {
		t.Fatal(err)
	}
	first, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 2)
	go func() {
		done <- db.Update(ctx, func(q *store.Queries) error {
			if err := q.UnindexMessage(ctx, "c", 1); err != nil {
				return err
			}
			close(first)
			<-release
			return nil
		})
	}()
	<-first
	go func() {
		done <- db.Update(ctx, func(q *store.Queries) error { return q.UnindexMessage(ctx, "c", 2) })
	}()
	time.Sleep(200 * time.Millisecond) // the second removal reaches the lists the first holds
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	batches, lists, msgs, err := db.Read().IndexSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if batches != 0 || lists != 0 || msgs != 0 {
		t.Errorf("after both removals the index holds %d batches, %d posting lists and %d messages, want none", batches, lists, msgs)
	}
}
