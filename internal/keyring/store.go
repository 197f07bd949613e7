package keyring

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Store is where wrapped data keys live. It must be kept apart from the main
// data (its own SQLite file, its own PostgreSQL schema) so that a backup of the
// data never carries the keys that decrypt it.
//
// Implementations must be safe for concurrent use. EachKey must not hold a
// resource that fn needs: fn may call the Store's other methods.
type Store interface {
	// PutKey inserts the wrapped key under id, or replaces the one there.
	PutKey(ctx context.Context, id string, wrapped []byte) error
	// Key returns the wrapped key stored under id, or ErrNoKey.
	Key(ctx context.Context, id string) ([]byte, error)
	// DeleteKey removes the key stored under id; removing an absent key is
	// not an error.
	DeleteKey(ctx context.Context, id string) error
	// EachKey calls fn for every stored key, in no promised order, and stops
	// at the first error fn returns, returning that error unchanged.
	EachKey(ctx context.Context, fn func(id string, wrapped []byte) error) error
	// Close releases the store's resources.
	Close() error
}

// HasKeys reports whether s holds any key at all: a key store in use, whose
// keys only the master key they were wrapped under opens.
func HasKeys(ctx context.Context, s Store) (bool, error) {
	errFound := errors.New("found")
	err := s.EachKey(ctx, func(string, []byte) error { return errFound })
	if errors.Is(err, errFound) {
		return true, nil
	}
	return false, err
}

// ErrNoKey is returned by Store.Key when no key is stored under the id.
var ErrNoKey = errors.New("keyring: no such key")

// conditionalStore is implemented by the stores of this package: it makes the
// two writes whose check-then-act would otherwise race between processes
// sharing one key store atomic in the database. Keyring uses it when the Store
// has it and falls back to Key followed by PutKey otherwise.
type conditionalStore interface {
	// insertKey stores wrapped under id unless a key is already there.
	insertKey(ctx context.Context, id string, wrapped []byte) (inserted bool, err error)
	// replaceKey replaces the key under id, but only if one is there, so that
	// re-wrapping cannot bring back a key destroyed meanwhile.
	replaceKey(ctx context.Context, id string, wrapped []byte) (replaced bool, err error)
}

// eachKeyPage is how many keys EachKey reads per query. Reading a page and
// closing the rows before calling fn keeps memory bounded and leaves the
// connection free for fn (the SQLite store has only one).
var eachKeyPage = 500

// sqlStore is a Store over database/sql; the two dialects differ only in
// their statements and in how an id is stored.
type sqlStore struct {
	db *sql.DB
	q  queries
	// afterDelete runs after a delete that removed a row (SQLite: checkpoint
	// the WAL so that no copy of the wrapped key stays on disk).
	afterDelete func(ctx context.Context) error
	// encode maps an id to its stored form; decode is its inverse.
	encode func(id string) (string, error)
	decode func(stored string) string
}

type queries struct {
	put, insert, replace, get, del, first, next string
}

// OpenSQLite opens (creating when missing) the SQLite key store at path, the
// file keys.db of an embedded installation. path is a file name, not a URI,
// and may not contain '?'.
//
// The database runs in WAL mode with synchronous=FULL (a key whose creation
// was reported must survive a power cut, or the data sealed with it is lost)
// and secure_delete, on one connection. After a delete the WAL is checkpointed
// and truncated, so a destroyed wrapped key is gone from keys.db and its WAL
// when DeleteKey returns.
func OpenSQLite(path string) (Store, error) {
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("open key store: invalid SQLite path %q", path)
	}
	// Create the file owner-only: SQLite gives the WAL and shared-memory
	// files the mode of the database file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	dsn := path + "?_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL&_pragma=secure_delete(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	const create = `CREATE TABLE IF NOT EXISTS data_keys (
	id TEXT PRIMARY KEY,
	wrapped BLOB NOT NULL,
	created_at TEXT NOT NULL
)`
	if _, err := db.Exec(create); err != nil {
		db.Close()
		return nil, fmt.Errorf("open key store: %w", err)
	}
	const now = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`
	s := &sqlStore{
		db: db,
		q: queries{
			put:     `INSERT INTO data_keys (id, wrapped, created_at) VALUES (?, ?, ` + now + `) ON CONFLICT (id) DO UPDATE SET wrapped = excluded.wrapped`,
			insert:  `INSERT INTO data_keys (id, wrapped, created_at) VALUES (?, ?, ` + now + `) ON CONFLICT (id) DO NOTHING`,
			replace: `UPDATE data_keys SET wrapped = ? WHERE id = ?`,
			get:     `SELECT wrapped FROM data_keys WHERE id = ?`,
			del:     `DELETE FROM data_keys WHERE id = ?`,
			first:   `SELECT id, wrapped FROM data_keys ORDER BY id LIMIT ?`,
			next:    `SELECT id, wrapped FROM data_keys WHERE id > ? ORDER BY id LIMIT ?`,
		},
		encode: func(id string) (string, error) { return id, nil },
		decode: func(stored string) string { return stored },
	}
	s.afterDelete = s.checkpoint
	return s, nil
}

// checkpoint copies the WAL into keys.db and truncates it, so that the pages
// secure_delete zeroed replace the ones holding a deleted key.
func (s *sqlStore) checkpoint(ctx context.Context) error {
	var busy, logFrames, checkpointed int
	err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &checkpointed)
	if err != nil {
		return fmt.Errorf("delete key: checkpoint: %w", err)
	}
	if busy != 0 {
		return errors.New("delete key: checkpoint blocked by another reader of the key store; try again")
	}
	return nil
}

// defaultSchema is the PostgreSQL schema OpenPostgres uses when given "".
const defaultSchema = "tkesj_keys"

// OpenPostgres opens the PostgreSQL key store of a scale-out installation: the
// table data_keys in its own schema (default "tkesj_keys"), created when
// missing. Give the key store's schema its own backup policy: a backup of it
// together with the master key undoes crypto-shredding for every key destroyed
// after that backup was taken.
//
// PostgreSQL text cannot hold NUL, so an id that starts with NUL (the
// keyring's reserved ids) is stored with U+0001 in its place; ids that hold
// NUL elsewhere, start with U+0001 or are not UTF-8 are refused.
// PostgresPoolSize bounds the key store's connections to PostgreSQL.
const PostgresPoolSize = 8

func OpenPostgres(ctx context.Context, url string, schema string) (Store, error) {
	if schema == "" {
		schema = defaultSchema
	}
	if len(schema) > 63 || strings.ContainsRune(schema, 0) {
		return nil, fmt.Errorf("open key store: invalid schema name %q", schema)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	// A bounded pool that keeps its connections: with database/sql's default
	// (2 idle, no cap) a burst of cold key loads opened one backend each
	// (779 new backends in 20 s under load), which is what made PostgreSQL
	// collapse under B2. Key reads are single-row lookups by primary key, so
	// a few connections carry them.
	db.SetMaxOpenConns(PostgresPoolSize)
	db.SetMaxIdleConns(PostgresPoolSize)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := migratePostgres(ctx, db, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("open key store: %w", err)
	}
	t := pgx.Identifier{schema, "data_keys"}.Sanitize()
	return &sqlStore{
		db: db,
		q: queries{
			put:     `INSERT INTO ` + t + ` (id, wrapped) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET wrapped = EXCLUDED.wrapped`,
			insert:  `INSERT INTO ` + t + ` (id, wrapped) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`,
			replace: `UPDATE ` + t + ` SET wrapped = $1 WHERE id = $2`,
			get:     `SELECT wrapped FROM ` + t + ` WHERE id = $1`,
			del:     `DELETE FROM ` + t + ` WHERE id = $1`,
			first:   `SELECT id, wrapped FROM ` + t + ` ORDER BY id LIMIT $1`,
			next:    `SELECT id, wrapped FROM ` + t + ` WHERE id > $1 ORDER BY id LIMIT $2`,
		},
		afterDelete: func(context.Context) error { return nil },
		encode:      pgEncodeID,
		decode:      pgDecodeID,
	}, nil
}

// migratePostgres creates the schema and table, under an advisory lock so that
// nodes starting together do not race on CREATE ... IF NOT EXISTS.
func migratePostgres(ctx context.Context, db *sql.DB, schema string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	s := pgx.Identifier{schema}.Sanitize()
	stmts := []string{
		`SELECT pg_advisory_xact_lock(hashtext('tkesj keyring migrate ' || $1))`,
		`CREATE SCHEMA IF NOT EXISTS ` + s,
		`CREATE TABLE IF NOT EXISTS ` + s + `.data_keys (
	id text PRIMARY KEY,
	wrapped bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
)`,
	}
	if _, err := tx.ExecContext(ctx, stmts[0], schema); err != nil {
		return err
	}
	for _, stmt := range stmts[1:] {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func pgEncodeID(id string) (string, error) {
	if strings.HasPrefix(id, "\x01") {
		return "", fmt.Errorf("id %q cannot be stored in PostgreSQL", id)
	}
	if strings.HasPrefix(id, "\x00") {
		id = "\x01" + id[1:]
	}
	if strings.ContainsRune(id, 0) || !utf8.ValidString(id) {
		return "", fmt.Errorf("id %q cannot be stored in PostgreSQL", id)
	}
	return id, nil
}

func pgDecodeID(stored string) string {
	if strings.HasPrefix(stored, "\x01") {
		return "\x00" + stored[1:]
	}
	return stored
}

func (s *sqlStore) PutKey(ctx context.Context, id string, wrapped []byte) error {
	sid, err := s.encode(id)
	if err != nil {
		return fmt.Errorf("put key: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q.put, sid, wrapped); err != nil {
		return fmt.Errorf("put key: %w", err)
	}
	return nil
}

func (s *sqlStore) insertKey(ctx context.Context, id string, wrapped []byte) (bool, error) {
	sid, err := s.encode(id)
	if err != nil {
		return false, fmt.Errorf("insert key: %w", err)
	}
	res, err := s.db.ExecContext(ctx, s.q.insert, sid, wrapped)
	if err != nil {
		return false, fmt.Errorf("insert key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert key: %w", err)
	}
	return n == 1, nil
}

func (s *sqlStore) replaceKey(ctx context.Context, id string, wrapped []byte) (bool, error) {
	sid, err := s.encode(id)
	if err != nil {
		return false, fmt.Errorf("replace key: %w", err)
	}
	res, err := s.db.ExecContext(ctx, s.q.replace, wrapped, sid)
	if err != nil {
		return false, fmt.Errorf("replace key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("replace key: %w", err)
	}
	return n == 1, nil
}

func (s *sqlStore) Key(ctx context.Context, id string) ([]byte, error) {
	sid, err := s.encode(id)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	var wrapped []byte
	err = s.db.QueryRowContext(ctx, s.q.get, sid).Scan(&wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoKey
	}
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	return wrapped, nil
}

func (s *sqlStore) DeleteKey(ctx context.Context, id string) error {
	sid, err := s.encode(id)
	if err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q.del, sid); err != nil {
		return fmt.Errorf("delete key: %w", err)
	}
	// Run afterDelete even when no row was removed: a retried Destroy whose
	// first checkpoint failed must get another chance to finish it.
	return s.afterDelete(ctx)
}

type storedKey struct {
	id      string
	wrapped []byte
}

func (s *sqlStore) EachKey(ctx context.Context, fn func(id string, wrapped []byte) error) error {
	var cursor string
	for first := true; ; first = false {
		var rows *sql.Rows
		var err error
		if first {
			rows, err = s.db.QueryContext(ctx, s.q.first, eachKeyPage)
		} else {
			rows, err = s.db.QueryContext(ctx, s.q.next, cursor, eachKeyPage)
		}
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		page, err := scanKeys(rows)
		if err != nil {
			return fmt.Errorf("list keys: %w", err)
		}
		for _, k := range page {
			if err := fn(s.decode(k.id), k.wrapped); err != nil {
				return err
			}
		}
		if len(page) < eachKeyPage {
			return nil
		}
		cursor = page[len(page)-1].id
	}
}

func scanKeys(rows *sql.Rows) ([]storedKey, error) {
	defer rows.Close()
	var page []storedKey
	for rows.Next() {
		var k storedKey
		if err := rows.Scan(&k.id, &k.wrapped); err != nil {
			return nil, err
		}
		page = append(page, k)
	}
	return page, rows.Err()
}

func (s *sqlStore) Close() error { return s.db.Close() }
