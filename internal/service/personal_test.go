package service_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/tkesj/tkesj/internal/kernel"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/store/postgres"
	"github.com/tkesj/tkesj/internal/store/sqlite"
)

// exempt lists the tables that hold a person's id or data and are, on
// purpose, in no registry entry: each with the reason.
var exempt = map[string]string{
	"audit_log":   "append-only accountability record of staff reads and actions, kept under legal basis (R-AUD); names people by opaque id only, and its details are sealed with the subject's key, so they are shredded with the account",
	"legal_holds": "a hold is a legal obligation (R-LEG-1) that outlives the account it names by opaque id; released holds stay as the record",
	"incidents":   "the incident register (R-INC) names only the staff member who recorded it; the people it touched are in incident_people, which is registered",
}

// personColumns name a person wherever they appear, with or without a
// foreign key; personal-data columns hold something about a person.
var personColumns = []string{"user_id", "owner_id", "sender_id", "author_id", "from_id", "to_id", "friend_id", "blocked_id",
	"creator_id", "scanner_id", "actor_id", "subject_id", "reporter_id", "target_user_id", "staff_id", "recorded_by",
	"phone_idx", "username_idx", "device_idx", "sealed", "profile"}

// schemaTable is one table as the database describes it.
type schemaTable struct {
	columns []string
	cascade []string // tables this one references with ON DELETE CASCADE
	refs    []string // every table it references
}

// TestEveryPersonalTableIsRegistered reads the schema the migrations built
// and fails when a table that holds a person's id or personal data is in no
// registry entry (kernel.PersonalData) and not exempt with a reason: a new
// feature cannot store personal data and forget its erasure and export
// (R-DEL-2, R-DEL-4, R-RGT-1). It also checks that an entry claiming erasure
// by cascade has the foreign keys to make it true. SQLite always; PostgreSQL
// when TKESJ_TEST_POSTGRES_URL is set.
func TestEveryPersonalTableIsRegistered(t *testing.T) {
	reg := registry(t)
	t.Run("on SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "tkesj.db")
		db, err := sqlite.Open(context.Background(), path, 1)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		raw, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		schema := sqliteSchema(t, raw)
		// The search index's own file (issue 17) holds its tables.
		idx, err := sql.Open("sqlite", "file:"+sqlite.SearchPath(path))
		if err != nil {
			t.Fatal(err)
		}
		defer idx.Close()
		for name, table := range sqliteTables(t, idx) {
			if name != "search_state" {
				schema[name] = table
			}
		}
		checkRegistry(t, reg, schema)
	})
	t.Run("on PostgreSQL", func(t *testing.T) {
		base := os.Getenv("TKESJ_TEST_POSTGRES_URL")
		if base == "" {
			t.Skip("TKESJ_TEST_POSTGRES_URL is not set")
		}
		raw, schema := postgresSchemaDB(t, base)
		checkRegistry(t, reg, postgresSchema(t, raw, schema))
	})
}

// registry builds the whole service on a throwaway SQLite store and returns
// what its capabilities registered.
func registry(t *testing.T) *kernel.Registry {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "r.db"), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys := testKeys(t)
	svc, err := service.New(ctx, service.Deps{DB: db, Keys: keys, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, service.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc.Personal
}

func checkRegistry(t *testing.T, reg *kernel.Registry, schema map[string]*schemaTable) {
	t.Helper()
	registered := reg.Tables()
	for name, st := range schema {
		if _, ok := exempt[name]; ok {
			continue
		}
		personal := slices.Contains(st.refs, "users")
		for _, c := range st.columns {
			if slices.Contains(personColumns, c) {
				personal = true
			}
		}
		if personal && len(registered[name]) == 0 {
			t.Errorf("table %s holds a person's id or data (columns %s) but no capability registered how it is erased and exported: add it to a kernel.PersonalData in the capability that writes it",
				name, strings.Join(st.columns, ", "))
		}
	}
	for name, ds := range registered {
		st := schema[name]
		if st == nil {
			t.Errorf("registry entry %q names table %s, which the schema does not have", ds[0].Name, name)
			continue
		}
		for _, d := range ds {
			if d.Erase.Cascade && !cascadesFromUsers(schema, name, map[string]bool{}) && !hasOtherErasure(d) {
				t.Errorf("registry entry %q says %s goes by cascade, but no ON DELETE CASCADE chain leads from it to users", d.Name, name)
			}
		}
	}
	var reasons []string
	for _, d := range reg.All() {
		if d.Export == nil {
			reasons = append(reasons, d.Name+": "+d.NoExport)
		}
	}
	sort.Strings(reasons)
	t.Logf("kinds of personal data without an export section, with their reasons:\n  %s", strings.Join(reasons, "\n  "))
}

func hasOtherErasure(d kernel.PersonalData) bool {
	return d.Erase.Destroy != nil || d.Erase.Purge != nil || d.Erase.Other != ""
}

// cascadesFromUsers says whether deleting a users row deletes table's rows:
// a foreign key with ON DELETE CASCADE to users, or to a table that cascades.
func cascadesFromUsers(schema map[string]*schemaTable, table string, seen map[string]bool) bool {
	if seen[table] {
		return false
	}
	seen[table] = true
	for _, ref := range schema[table].cascade {
		if ref == "users" || (schema[ref] != nil && cascadesFromUsers(schema, ref, seen)) {
			return true
		}
	}
	return false
}

func sqliteSchema(t *testing.T, db *sql.DB) map[string]*schemaTable {
	t.Helper()
	out := sqliteTables(t, db)
	if len(out) < 20 {
		t.Fatalf("the SQLite schema has %d tables; the test would prove nothing", len(out))
	}
	return out
}

// sqliteTables reads the tables of one SQLite file.
func sqliteTables(t *testing.T, db *sql.DB) map[string]*schemaTable {
	t.Helper()
	names := queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	out := map[string]*schemaTable{}
	for _, name := range names {
		st := &schemaTable{}
		rows, err := db.Query(`SELECT name FROM pragma_table_info(?)`, name)
		if err != nil {
			t.Fatal(err)
		}
		st.columns = scanStrings(t, rows)
		rows, err = db.Query(`SELECT "table", on_delete FROM pragma_foreign_key_list(?)`, name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var ref, onDelete string
			if err := rows.Scan(&ref, &onDelete); err != nil {
				t.Fatal(err)
			}
			st.refs = append(st.refs, ref)
			if onDelete == "CASCADE" {
				st.cascade = append(st.cascade, ref)
			}
		}
		rows.Close()
		out[name] = st
	}
	return out
}

// postgresSchemaDB migrates a fresh schema and returns a connection to read it.
func postgresSchemaDB(t *testing.T, base string) (*sql.DB, string) {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "arch_registry_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	qs := u.Query()
	qs.Set("search_path", schema)
	u.RawQuery = qs.Encode()
	db, err := postgres.Open(ctx, u.String(), 2)
	if err != nil {
		t.Fatalf("migrate PostgreSQL: %v", err)
	}
	db.Close()
	return admin, schema
}

func postgresSchema(t *testing.T, db *sql.DB, schema string) map[string]*schemaTable {
	t.Helper()
	out := map[string]*schemaTable{}
	rows, err := db.Query(`SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = $1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		if out[table] == nil {
			out[table] = &schemaTable{}
		}
		out[table].columns = append(out[table].columns, col)
	}
	rows.Close()
	rows, err = db.Query(`SELECT src.relname, dst.relname, c.confdeltype
		FROM pg_constraint c
		JOIN pg_class src ON src.oid = c.conrelid
		JOIN pg_class dst ON dst.oid = c.confrelid
		JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE c.contype = 'f' AND n.nspname = $1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table, ref, del string
		if err := rows.Scan(&table, &ref, &del); err != nil {
			t.Fatal(err)
		}
		st := out[table]
		st.refs = append(st.refs, ref)
		if del == "c" {
			st.cascade = append(st.cascade, ref)
		}
	}
	rows.Close()
	if len(out) < 20 {
		t.Fatalf("the PostgreSQL schema has %d tables; the test would prove nothing", len(out))
	}
	return out
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	return scanStrings(t, rows)
}

func scanStrings(t *testing.T, rows *sql.Rows) []string {
	t.Helper()
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}
