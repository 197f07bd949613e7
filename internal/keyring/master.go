package keyring

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// masterKeySize is the size of the master key and of every data key: AES-256.
const masterKeySize = 32

// masterKeyFile is the name of the master key file in the data directory.
const masterKeyFile = "master.key"

// LoadOrCreateMasterKey returns the master key that wraps every data key.
//
// envValue is the value of TKESJ_MASTER_KEY: 32 bytes in standard or raw URL
// base64. When it is not empty it wins and nothing is read or written.
// Otherwise the key is dataDir/master.key: 32 raw bytes, created with mode 0600
// on the first call and read on every later one. A file that other users may
// read, or whose length is wrong, is refused with an error saying what to do.
//
// Losing the master key loses all encrypted data; keep a copy of it away from
// both the data and the key store.
func LoadOrCreateMasterKey(dataDir, envValue string) ([]byte, error) {
	if v := strings.TrimSpace(envValue); v != "" {
		return decodeMasterKey(v)
	}
	if dataDir == "" {
		return nil, errors.New("load master key: TKESJ_MASTER_KEY is empty and there is no data directory to keep master.key in")
	}
	path := filepath.Join(dataDir, masterKeyFile)
	key, err := readMasterKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createMasterKeyFile(dataDir, path); err != nil {
			return nil, fmt.Errorf("create master key: %w", err)
		}
		// Read it back through the same checks; if another process created
		// the file first, this returns that process's key.
		key, err = readMasterKeyFile(path)
	}
	return key, err
}

func decodeMasterKey(v string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		key, err = base64.RawURLEncoding.DecodeString(v)
	}
	if err != nil || len(key) != masterKeySize {
		// Never echo the value: it is (meant to be) a secret.
		return nil, errors.New(`load master key: TKESJ_MASTER_KEY must be 32 bytes in standard or raw URL base64; generate one with "openssl rand -base64 32"`)
	}
	return key, nil
}

func readMasterKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load master key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load master key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("load master key: %s is not a regular file; it must hold the 32-byte master key", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("load master key: %s has mode %04o, so other users may read it; restrict it to its owner with: chmod 600 %s", path, perm, path)
	}
	key, err := io.ReadAll(io.LimitReader(f, masterKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("load master key: %w", err)
	}
	if len(key) != masterKeySize {
		clear(key)
		return nil, fmt.Errorf("load master key: %s holds %d bytes, want %d; restore it from your backup of the master key (replacing it with a new key makes all encrypted data unreadable)", path, fi.Size(), masterKeySize)
	}
	return key, nil
}

// createMasterKeyFile writes a new random key to a temporary file, syncs it and
// links it into place, so that path never holds a partial key and a
// concurrent first start cannot replace a key that is already in use.
func createMasterKeyFile(dataDir, path string) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	key := make([]byte, masterKeySize)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dataDir, ".master.key.tmp-*") // mode 0600
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// A hard link, unlike rename, fails when path exists: the first process
	// to finish keeps its key and the others read it.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		// File systems without hard links: rename, after checking again.
		if _, statErr := os.Lstat(path); statErr == nil {
			return nil
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return err
		}
	}
	return syncDir(dataDir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && runtime.GOOS != "windows" {
		return err
	}
	return nil
}
