// Package schema holds tkesj's database schema once, as versioned migration
// files NNNN_name.sql written in SQLite's dialect. The sqlite adapter applies
// them as they are; the postgres adapter rewrites the few type names that
// differ (see Postgres) and overrides the rare file that must differ in more
// than types. Only the two store adapters import it.
package schema

import (
	"embed"
	"io/fs"
	"regexp"
	"strings"
	"testing/fstest"
)

//go:embed *.sql
var files embed.FS

// SQLite returns the migrations as written.
func SQLite() fs.FS { return files }

var (
	serial  = regexp.MustCompile(`\bINTEGER PRIMARY KEY AUTOINCREMENT\b`)
	integer = regexp.MustCompile(`\bINTEGER\b`)
	blob    = regexp.MustCompile(`\bBLOB\b`)
	noRowID = regexp.MustCompile(`\)\s*WITHOUT ROWID`)
)

// ToPostgres rewrites one SQLite migration for PostgreSQL: autoincrement keys
// become BIGSERIAL, INTEGER becomes BIGINT (times are microseconds), BLOB
// becomes BYTEA, and SQLite's WITHOUT ROWID (a table stored in its primary
// key, as PostgreSQL tables never are) goes. BOOLEAN, TEXT and the rest mean
// the same in both.
func ToPostgres(sql string) string {
	sql = noRowID.ReplaceAllString(sql, ")")
	sql = serial.ReplaceAllString(sql, "BIGSERIAL PRIMARY KEY")
	sql = integer.ReplaceAllString(sql, "BIGINT")
	return blob.ReplaceAllString(sql, "BYTEA")
}

// Postgres returns the migrations rewritten by ToPostgres, except those
// that overrides (a directory of NNNN_name.sql files) replaces whole.
func Postgres(overrides fs.FS) (fs.FS, error) {
	out := fstest.MapFS{}
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, err
		}
		out[name] = &fstest.MapFile{Data: []byte(ToPostgres(string(b)))}
	}
	over, err := fs.Glob(overrides, "*.sql")
	if err != nil {
		return nil, err
	}
	for _, name := range over {
		b, err := fs.ReadFile(overrides, name)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSpace(name)] = &fstest.MapFile{Data: b}
	}
	return out, nil
}
