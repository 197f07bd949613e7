package postgres_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

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
