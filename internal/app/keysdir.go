package app

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Files of the key store on disk: the SQLite key store (with its WAL) and
// the master key. They live in the keys directory, never in the data
// directory, so that a backup of the data cannot bring back a destroyed
// person's key (R-DEL-3).
var keyFiles = []string{"master.key", "master.key.new", "keys.db", "keys.db-wal", "keys.db-shm"}

// KeysDir is where the key store and master key live: --keys, or else the
// directory beside the data directory named after it with "-keys"
// (./tkesj-data -> ./tkesj-data-keys). Beside, not inside: operators back up
// the data directory whole.
func (c Config) KeysDir() string {
	if c.Keys != "" {
		return c.Keys
	}
	data := filepath.Clean(c.Data)
	return filepath.Join(filepath.Dir(data), filepath.Base(data)+"-keys")
}

// prepareKeysDir creates the keys directory (0700), refuses one that is the
// data directory or inside it, and moves the key files of an installation
// made before keys were kept apart out of the data directory.
//
// A deployment on PostgreSQL with TKESJ_MASTER_KEY keeps nothing on disk,
// and no directory is made.
func prepareKeysDir(cfg Config, log *slog.Logger) error {
	dir := cfg.KeysDir()
	if inside(dir, cfg.Data) {
		return fmt.Errorf("--keys %s is inside the data directory %s: keep the keys apart, or a backup of the data brings destroyed people back (R-DEL-3)", dir, cfg.Data)
	}
	if isPostgres(cfg.DB) && cfg.MasterKey != "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create keys dir: %w", err)
	}
	var moved []string
	for _, name := range keyFiles {
		old, dst := filepath.Join(cfg.Data, name), filepath.Join(dir, name)
		if _, err := os.Stat(old); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if _, err := os.Stat(dst); err == nil {
			return fmt.Errorf("%s exists in both the data directory and the keys directory %s: keep the one in use and remove the other", name, dir)
		}
		if err := os.Rename(old, dst); err != nil {
			return fmt.Errorf("move %s out of the data directory into %s (move it by hand, with the server stopped): %w", name, dir, err)
		}
		moved = append(moved, name)
	}
	if len(moved) > 0 {
		if log != nil {
			log.Warn("moved the key store out of the data directory", "files", strings.Join(moved, ","), "keys_dir", dir)
		}
		return syncDir(dir)
	}
	return nil
}

// inside reports whether dir is base or below it.
func inside(dir, base string) bool {
	d, err1 := filepath.Abs(dir)
	b, err2 := filepath.Abs(base)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(b, d)
	return err == nil && (rel == "." || !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && rel != "..")
}
