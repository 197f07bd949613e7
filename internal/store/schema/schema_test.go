package schema

import (
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

func TestToPostgres(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"seq INTEGER PRIMARY KEY AUTOINCREMENT,", "seq BIGSERIAL PRIMARY KEY,"},
		{"at INTEGER NOT NULL,", "at BIGINT NOT NULL,"},
		{"read_at INTEGER", "read_at BIGINT"},
		{"sealed BLOB NOT NULL", "sealed BYTEA NOT NULL"},
		{"muted BOOLEAN NOT NULL", "muted BOOLEAN NOT NULL"},
		{"points_integer_count TEXT", "points_integer_count TEXT"},
		{"PRIMARY KEY (a, b)\n) WITHOUT ROWID;", "PRIMARY KEY (a, b)\n);"},
	} {
		if got := ToPostgres(tc.in); got != tc.want {
			t.Errorf("ToPostgres(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPostgresOverrides(t *testing.T) {
	over := fstest.MapFS{"0015_audit_log_append_only.sql": {Data: []byte("-- the PostgreSQL version\n")}}
	pg, err := Postgres(over)
	if err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(pg, "*.sql")
	all, _ := fs.Glob(SQLite(), "*.sql")
	if len(names) != len(all) {
		t.Fatalf("postgres has %d migrations, sqlite %d", len(names), len(all))
	}
	b, _ := fs.ReadFile(pg, "0015_audit_log_append_only.sql")
	if string(b) != "-- the PostgreSQL version\n" {
		t.Errorf("override not used: %q", b)
	}
	b, _ = fs.ReadFile(pg, "0001_accounts.sql")
	if strings.Contains(string(b), "BLOB") || !strings.Contains(string(b), "BYTEA") {
		t.Errorf("0001 was not rewritten")
	}
}
