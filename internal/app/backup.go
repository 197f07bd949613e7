package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for VACUUM INTO

	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/store/sqlite"
)

// Backup writes a consistent online snapshot of the embedded store to dir:
// dir/tkesj.db (SQLite's VACUUM INTO, which reads one snapshot while the
// server keeps writing) and dir/media (hard links to the sealed, write-once
// blobs, or copies where links are impossible). The search index's file
// (tkesj-search.db) is not copied: it is derived from the messages, and
// Restore has it built again. It never copies keys.db or
// master.key: a data backup must not carry the keys that crypto-shredding
// destroys (R-DEL-3). For PostgreSQL use pg_dump of the data schema (README).
func Backup(ctx context.Context, cfg Config, dir string) error {
	if cfg.DB != "" {
		return errors.New("backup of PostgreSQL: use pg_dump of the data schema (see README); the key schema stays out of it")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create backup dir: %w", err)
	}
	out := filepath.Join(dir, "tkesj.db")
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("%s exists; back up into an empty directory", out)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(cfg.Data, "tkesj.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, out); err != nil {
		return fmt.Errorf("snapshot store: %w", err)
	}
	if err := os.Chmod(out, 0o600); err != nil {
		return err
	}
	if isS3(cfg.Media) {
		// Objects in S3 are backed up by the bucket's own means (replication
		// or a copy with the storage's tools); they are sealed like the disk's.
		return nil
	}
	return copyTree(mediaDir(cfg), filepath.Join(dir, "media"), false)
}

// mediaDir is the media directory of a deployment that keeps media on disk.
func mediaDir(cfg Config) string {
	if cfg.Media != "" {
		return cfg.Media
	}
	return filepath.Join(cfg.Data, "media")
}

// Restore brings a backup made by Backup into cfg.Data (the server must be
// stopped). The current database is kept beside it as tkesj.db.pre-restore-*.
// Then it purges: every account in the restored data whose key is gone was
// destroyed after the backup, and is removed with its message bodies and
// media before anyone can see it (R-DEL-3).
func Restore(ctx context.Context, cfg Config, dir string, log *slog.Logger) (service.PurgeStats, error) {
	if cfg.DB != "" {
		return service.PurgeStats{}, errors.New("restore of PostgreSQL: load the pg_dump with psql, then run tkesj purge --db URL")
	}
	src := filepath.Join(dir, "tkesj.db")
	if _, err := os.Stat(src); err != nil {
		return service.PurgeStats{}, fmt.Errorf("no backup at %s: %w", src, err)
	}
	live := filepath.Join(cfg.Data, "tkesj.db")
	stamp := time.Now().UTC().Format("20060102T150405")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(live + suffix); err == nil {
			if err := os.Rename(live+suffix, live+".pre-restore-"+stamp+suffix); err != nil {
				return service.PurgeStats{}, fmt.Errorf("keep current store: %w", err)
			}
		}
	}
	if err := copyFile(src, live); err != nil {
		return service.PurgeStats{}, err
	}
	// The search index (its own file, issue 17) is derived from the
	// messages and never backed up: the current one follows the current
	// database's rowids, not the restored one's (VACUUM INTO renumbers
	// them), so it goes, and the server builds it again from the restored
	// messages.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(sqlite.SearchPath(live) + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return service.PurgeStats{}, fmt.Errorf("remove the search index: %w", err)
		}
	}
	if !isS3(cfg.Media) {
		if err := copyTree(filepath.Join(dir, "media"), mediaDir(cfg), true); err != nil {
			return service.PurgeStats{}, err
		}
	}
	return Purge(ctx, cfg, log)
}

// Purge opens the app and runs one purge pass (after a PostgreSQL restore,
// or by hand).
func Purge(ctx context.Context, cfg Config, log *slog.Logger) (service.PurgeStats, error) {
	a, err := Open(ctx, cfg, log)
	if err != nil {
		return service.PurgeStats{}, err
	}
	defer a.Close()
	return a.Service.Purge(ctx)
}

// copyTree mirrors the files under src into dst, hard-linking when it can;
// skipExisting leaves files already at dst alone.
func copyTree(src, dst string, skipExisting bool) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && path == src {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if _, err := os.Stat(target); err == nil && skipExisting {
			return nil
		}
		if os.Link(path, target) == nil {
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
