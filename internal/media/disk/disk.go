// Package disk is the default tkesj.BlobStore: media blobs as files in a
// local directory (R-MED-4).
//
// Only the wiring (internal/app) and tests import it; the service layer sees
// a tkesj.BlobStore and nothing of files.
package disk

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/tkesj/tkesj"
)

// Store keeps each blob in a file named by its key, under one of 256
// subdirectories ("00" to "ff") chosen by a hash of the key, so that no
// directory grows huge whatever the keys look like. Files are 0600 and
// directories 0700: blobs are sealed already, but nobody else on the machine
// needs to list them either.
//
// A Store is safe for concurrent use by several goroutines. Two processes
// may share a directory: every write is an atomic create-if-absent.
type Store struct {
	dir string
}

var _ tkesj.BlobStore = (*Store)(nil)

// Open returns a Store on dir, creating it (0700) if it does not exist. dir
// must be on a local POSIX filesystem: Put relies on hard links and on fsync
// of directories.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("open media directory: no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open media directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("open media directory: %w", err)
	}
	if fi, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("open media directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open media directory: %s is not a directory", abs)
	}
	return &Store{dir: abs}, nil
}

// validKey reports whether key is a key the service makes: 1 to 128 of
// a-z, 0-9, "_" and "-". Nothing else reaches the filesystem, so no key can
// name a path outside the store ("..", "/", NUL, Unicode look-alikes).
// The s3 package has the same rule; mediatest holds both to it.
func validKey(key string) bool {
	if len(key) < 1 || len(key) > 128 {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func errInvalidKey() error {
	return tkesj.Errorf(tkesj.EInvalid, "invalid_media_key", "media key is not valid")
}

// shard returns the subdirectory for key: two hex digits of a hash of it.
func shard(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return fmt.Sprintf("%02x", byte(h.Sum32()))
}

func (s *Store) path(key string) (dir, file string) {
	dir = filepath.Join(s.dir, shard(key))
	return dir, filepath.Join(dir, key)
}

// Put stores size bytes from r under key, once: if key exists it returns an
// *tkesj.Error of kind EConflict and leaves the stored blob as it was. A body
// shorter or longer than size is EInvalid "size_mismatch" (size < 0 accepts
// any length). It returns after the file and its directory entry are synced
// to disk.
//
// The bytes go to a temporary file in the key's directory, which is synced and
// then hard-linked under the key: link, unlike rename, fails when the key
// exists, so the create-if-absent is atomic even between processes. A crash
// at any point leaves either no blob or the whole blob under the key, and
// perhaps a temporary file, whose name (".tmp-...") is never a key.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	if !validKey(key) {
		return errInvalidKey()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put media %s: %w", key, err)
	}
	dir, name := s.path(key)
	f, err := s.createTemp(dir)
	if err != nil {
		return fmt.Errorf("put media %s: %w", key, err)
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		os.Remove(tmp) // after a successful link, only the key's name remains
	}()

	src := io.Reader(ctxReader{ctx, r})
	if size >= 0 {
		src = io.LimitReader(src, size+1)
	}
	n, err := io.Copy(f, src)
	if err != nil {
		return fmt.Errorf("put media %s: %w", key, err)
	}
	if size >= 0 && n != size {
		return &tkesj.Error{Kind: tkesj.EInvalid, Code: "size_mismatch",
			Message: "the upload's length does not match its declared size",
			Err:     fmt.Errorf("put media %s: got %d bytes, want %d", key, n, size)}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("put media %s: %w", key, err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return fmt.Errorf("put media %s: %w", key, err)
	}
	if err := os.Link(tmp, name); errors.Is(err, fs.ErrExist) {
		return tkesj.Errorf(tkesj.EConflict, "media_exists", "media already exists")
	} else if err != nil {
		return fmt.Errorf("put media %s: %w", key, err)
	}
	// The blob is in place; a temporary name that fails to go is only litter
	// (the deferred Remove tries again, and Keys never lists it).
	os.Remove(tmp)
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put media %s: %w", key, err)
	}
	return nil
}

// createTemp creates a 0600 temporary file in dir, creating dir (and syncing
// its parent, so the new directory survives a crash) when it is missing.
func (s *Store) createTemp(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if !errors.Is(err, fs.ErrNotExist) {
		return f, err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	return os.CreateTemp(dir, ".tmp-*")
}

// Get returns the blob under key; the caller closes it. A missing key is an
// *tkesj.Error of kind ENotFound.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if !validKey(key) {
		return nil, errInvalidKey()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get media %s: %w", key, err)
	}
	_, name := s.path(key)
	f, err := os.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, tkesj.ErrNotFound("media")
	} else if err != nil {
		return nil, fmt.Errorf("get media %s: %w", key, err)
	}
	return f, nil
}

// Delete removes the blob under key and syncs its directory, so a deleted
// blob stays deleted after a crash. Deleting a missing key is not an error.
// Readers that opened the blob before keep reading it until they close it.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !validKey(key) {
		return errInvalidKey()
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete media %s: %w", key, err)
	}
	dir, name := s.path(key)
	if err := os.Remove(name); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("delete media %s: %w", key, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("delete media %s: %w", key, err)
	}
	return nil
}

// Keys calls fn with every stored key and the time it was written, in no
// particular order, until fn returns an error, which Keys returns as it is.
// Keys put or deleted during the walk may or may not be seen. Leftover
// temporary files are skipped. The orphan purge uses it to find blobs that no
// message refers to.
func (s *Store) Keys(ctx context.Context, fn func(key string, modTime time.Time) error) error {
	shards, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list media: %w", err)
	}
	for _, sh := range shards {
		if !sh.IsDir() || len(sh.Name()) != 2 {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.dir, sh.Name()))
		if err != nil {
			return fmt.Errorf("list media: %w", err)
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("list media: %w", err)
			}
			if !f.Type().IsRegular() || !validKey(f.Name()) {
				continue
			}
			fi, err := f.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since ReadDir
			} else if err != nil {
				return fmt.Errorf("list media: %w", err)
			}
			if err := fn(f.Name(), fi.ModTime()); err != nil {
				return err
			}
		}
	}
	return nil
}

// syncDir makes the entries of dir durable: the file names created, linked
// or removed in it.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// ctxReader stops a copy when its context ends, so that a Put whose request
// was abandoned does not keep writing.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
