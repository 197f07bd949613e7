// Package postgres opens the PostgreSQL store used when tkesj runs as several
// nodes. It holds only the driver, the error mapping and the rare migration
// that differs in more than type names; the queries live in package store and
// the schema in package schema.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver

	"github.com/tkesj/tkesj/internal/store"
	"github.com/tkesj/tkesj/internal/store/schema"
)

// overrides are the migrations PostgreSQL needs in more than other type
// names (0015: the append-only audit log's trigger); schema.Postgres
// rewrites the rest from the one schema.
//
//go:embed overrides/*.sql
var overrides embed.FS

// Migrations returns the schema scripts for PostgreSQL.
func Migrations() (fs.FS, error) {
	sub, err := fs.Sub(overrides, "overrides")
	if err != nil {
		return nil, err
	}
	return schema.Postgres(sub)
}

var dialect = &store.Dialect{
	Name:         "postgres",
	Placeholders: true,
	IsUnique: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && e.Code == "23505"
	},
	IsConflict: func(err error) bool {
		var e *pgconn.PgError
		return errors.As(err, &e) && (e.Code == "40P01" || e.Code == "40001")
	},
	Lock: func(ctx context.Context, tx *sql.Tx) error {
		// Nodes starting together apply migrations one at a time.
		_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7201)`)
		return err
	},
}

// Open connects to url (a postgres:// URL; search_path may be set as a query
// parameter) and applies the migrations. maxConns bounds the pool (16 when <= 0).
func Open(ctx context.Context, url string, maxConns int) (*store.DB, error) {
	if maxConns <= 0 {
		maxConns = 16
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	s := store.New(db, db, dialect)
	m, err := Migrations()
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := s.Migrate(ctx, m); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}
