package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// RotateMasterKey re-wraps every data key under a new master key. With a
// master.key file the new key replaces it; with TKESJ_MASTER_KEY the new key is
// written to outFile (0600) for the operator to move into their secret store.
//
// It is crash-safe: the new key is written to master.key.new before any data
// key is re-wrapped, and a later run finds it and finishes the job. Run it
// while no server uses the key store.
func RotateMasterKey(ctx context.Context, cfg Config, outFile string) error {
	if cfg.MasterKey != "" && outFile == "" {
		return errors.New("the master key comes from TKESJ_MASTER_KEY: name a file for the new key with --out")
	}
	keys, ks, err := OpenKeyring(ctx, cfg)
	if err != nil {
		return err
	}
	defer ks.Close()
	pending := filepath.Join(cfg.KeysDir(), "master.key.new")
	if outFile != "" {
		pending = outFile
	}
	next, err := readKeyFile(pending)
	if errors.Is(err, fs.ErrNotExist) {
		next = make([]byte, 32)
		if _, err := rand.Read(next); err != nil {
			return fmt.Errorf("new master key: %w", err)
		}
		if err := writeKeyFile(pending, next); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if err := keys.Rotate(ctx, next); err != nil {
		return fmt.Errorf("re-wrap data keys (run the command again to finish): %w", err)
	}
	if outFile != "" {
		return nil
	}
	if err := os.Rename(pending, filepath.Join(cfg.KeysDir(), "master.key")); err != nil {
		return fmt.Errorf("install new master key: %w", err)
	}
	return syncDir(cfg.KeysDir())
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 32 {
		return b, nil
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("%s does not hold a 32-byte key", path)
	}
	return k, nil
}

// writeKeyFile writes key durably with mode 0600: raw bytes for master.key.new,
// base64 for an --out file meant to be pasted into TKESJ_MASTER_KEY.
func writeKeyFile(path string, key []byte) error {
	data := key
	if filepath.Base(path) != "master.key.new" {
		data = []byte(base64.StdEncoding.EncodeToString(key) + "\n")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write new master key: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write new master key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync new master key: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
