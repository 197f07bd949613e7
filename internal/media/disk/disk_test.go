package disk

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/media/mediatest"
)

// MustOpen opens a Store in a fresh temporary directory.
func MustOpen(tb testing.TB) *Store {
	tb.Helper()
	s, err := Open(filepath.Join(tb.TempDir(), "media"))
	if err != nil {
		tb.Fatalf("Open = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	// R-MED-4: local disk is one of the two storage backends.
	mediatest.Run(t, func(t *testing.T) mediatest.Store { return MustOpen(t) })
}

func TestFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "media")
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	mediatest.MustPut(t, s, "mprivate", []byte("sealed"))
	tests := []struct {
		name string
		path string
		want fs.FileMode
	}{
		{"the store directory is 0700", dir, 0o700 | fs.ModeDir},
		{"a shard directory is 0700", filepath.Join(dir, shard("mprivate")), 0o700 | fs.ModeDir},
		{"a blob is 0600", filepath.Join(dir, shard("mprivate"), "mprivate"), 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode(); got != tt.want {
				t.Errorf("mode of %s = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

func TestPutLeavesNoTemporaryFiles(t *testing.T) {
	s := MustOpen(t)
	mediatest.MustPut(t, s, "mkept", []byte("kept"))
	_ = s.Put(context.Background(), "mkept", strings.NewReader("dup"), 3) // conflict
	_ = s.Put(context.Background(), "mshort", strings.NewReader("12"), 3) // too short
	_ = s.Put(context.Background(), "mfail", iotestErrReader{}, 10)       // reader fails
	var names []string
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, d.Name())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "mkept" {
		t.Errorf("files in the store = %q, want only [mkept]", names)
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, fmt.Errorf("disk on fire") }

func TestKeysSkipsLeftovers(t *testing.T) {
	// A crash between creating a temporary file and linking it leaves the
	// temporary file; it must never be taken for a blob.
	s := MustOpen(t)
	mediatest.MustPut(t, s, "mreal", []byte("x"))
	sh := filepath.Join(s.dir, shard("mreal"))
	for _, name := range []string{".tmp-123", "Upper", "name.jpg"} {
		if err := os.WriteFile(filepath.Join(sh, name), []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(s.dir, "stray"), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := mediatest.MustKeys(t, s); len(got) != 1 || got[0] != "mreal" {
		t.Errorf("Keys = %q, want [mreal]", got)
	}
}

func TestOpen(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		dir  string
	}{
		{"an empty path is refused", ""},
		{"a file is refused", file},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(tt.dir); err == nil {
				t.Errorf("Open(%q) = nil error, want one", tt.dir)
			}
		})
	}
	t.Run("reopening a store finds its blobs", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		mediatest.MustPut(t, s, "mkept", []byte("kept"))
		s2, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := mediatest.MustGet(t, s2, "mkept"); string(got) != "kept" {
			t.Errorf("Get after reopen = %q, want %q", got, "kept")
		}
		if _, err := s2.Get(context.Background(), "mother"); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
			t.Errorf("Get(missing) = %v, want not found", err)
		}
	})
}

// BenchmarkDiskPut10MB measures durable writes of a 10 MB video: copy, fsync
// of the file, link, fsync of the directory.
func BenchmarkDiskPut10MB(b *testing.B) {
	s := MustOpen(b)
	body := make([]byte, 10<<20)
	rand.Read(body)
	ctx := context.Background()
	b.SetBytes(int64(len(body)))
	i := 0
	for b.Loop() {
		key := fmt.Sprintf("mbench%d", i)
		i++
		if err := s.Put(ctx, key, bytes.NewReader(body), int64(len(body))); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Delete(ctx, key); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
