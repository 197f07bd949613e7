package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/postgres"
	"github.com/tkesj/tkesj/internal/store/storetest"
)

// TestConformance runs the suite in one schema, migrated once and emptied
// before each case: migrating a fresh schema per case costs seconds each.
func TestConformance(t *testing.T) {
	u := testSchema(t, storetest.PostgresURL(t))
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
	db, err := postgres.Open(context.Background(), testSchema(t, base), 8)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// testSchema creates a schema that is dropped when the test ends and
// returns base's URL with it as the search path.
func testSchema(t *testing.T, base string) string {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err == nil {
			a.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
			a.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	qs := u.Query()
	qs.Set("search_path", schema)
	u.RawQuery = qs.Encode()
	return u.String()
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
