// Package mediatest is the conformance suite for media blob stores: every
// tkesj.BlobStore implementation runs Run in its tests and so behaves the same
// (R-MED-4).
//
// Only tests import it.
package mediatest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
)

// Store is what a media backend provides: the tkesj.BlobStore contract and a
// walk over every key, which the orphan purge uses.
type Store interface {
	tkesj.BlobStore
	// Keys calls fn with every stored key and the time it was written, until
	// fn returns an error, which Keys returns as it is.
	Keys(ctx context.Context, fn func(key string, modTime time.Time) error) error
}

// Run tests the store that open returns. open is called once per subtest and
// must return an empty store, cleaned up by t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Run("blobs come back byte for byte", func(t *testing.T) {
		s := open(t)
		for _, size := range []int{0, 1, 5 << 20} {
			key := fmt.Sprintf("m%dbytes", size)
			want := randomBytes(t, size)
			MustPut(t, s, key, want)
			if got := MustGet(t, s, key); !bytes.Equal(got, want) {
				t.Errorf("Get(%q) = %d bytes, want the %d put", key, len(got), len(want))
			}
		}
	})

	t.Run("a missing key is not found", func(t *testing.T) {
		s := open(t)
		rc, err := s.Get(t.Context(), "mnothere")
		if rc != nil {
			rc.Close()
		}
		if k := tkesj.ErrorKindOf(err); k != tkesj.ENotFound {
			t.Errorf("Get(missing) = %v, want kind %s", err, tkesj.ENotFound)
		}
		var e *tkesj.Error
		if !errors.As(err, &e) {
			t.Errorf("Get(missing) error is %T, want *tkesj.Error", err)
		}
	})

	t.Run("a key is written once", func(t *testing.T) {
		s := open(t)
		MustPut(t, s, "monce", []byte("first"))
		err := s.Put(t.Context(), "monce", strings.NewReader("second"), 6)
		if k := tkesj.ErrorKindOf(err); k != tkesj.EConflict {
			t.Errorf("second Put = %v, want kind %s", err, tkesj.EConflict)
		}
		if got := MustGet(t, s, "monce"); string(got) != "first" {
			t.Errorf("Get after refused Put = %q, want %q", got, "first")
		}
	})

	t.Run("a deleted blob is not found, and deleting again is fine", func(t *testing.T) {
		s := open(t)
		MustPut(t, s, "mgone", []byte("bye"))
		for i := range 2 {
			if err := s.Delete(t.Context(), "mgone"); err != nil {
				t.Fatalf("Delete #%d = %v, want nil", i+1, err)
			}
		}
		if _, err := s.Get(t.Context(), "mgone"); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
			t.Errorf("Get after Delete = %v, want kind %s", err, tkesj.ENotFound)
		}
		if err := s.Delete(t.Context(), "mneverput"); err != nil {
			t.Errorf("Delete(never put) = %v, want nil", err)
		}
		// A deleted key is free again: the service never reuses keys, but a
		// store must not remember them either.
		MustPut(t, s, "mgone", []byte("again"))
	})

	t.Run("keys that are not service ids are refused", func(t *testing.T) {
		s := open(t)
		for _, key := range []string{
			"", "..", ".", "../x", "a/b", "/etc/passwd", `a\b`, "../../../../tmp/x",
			"m..", "A", "mX", "a b", "a\x00b", "a\nb", "é", "ｍ", "m\u200b", "m.jpg",
			strings.Repeat("a", 129),
		} {
			if err := s.Put(t.Context(), key, strings.NewReader("x"), 1); tkesj.ErrorKindOf(err) != tkesj.EInvalid {
				t.Errorf("Put(%q) = %v, want kind %s", key, err, tkesj.EInvalid)
			}
			if _, err := s.Get(t.Context(), key); tkesj.ErrorKindOf(err) != tkesj.EInvalid {
				t.Errorf("Get(%q) = %v, want kind %s", key, err, tkesj.EInvalid)
			}
			if err := s.Delete(t.Context(), key); tkesj.ErrorKindOf(err) != tkesj.EInvalid {
				t.Errorf("Delete(%q) = %v, want kind %s", key, err, tkesj.EInvalid)
			}
		}
		if keys := MustKeys(t, s); len(keys) != 0 {
			t.Errorf("Keys after refused Puts = %q, want none", keys)
		}
		// The longest and the plainest valid keys are accepted.
		for _, key := range []string{strings.Repeat("z", 128), "0", "m-_9"} {
			MustPut(t, s, key, []byte("ok"))
		}
	})

	t.Run("a body of the wrong length is refused and not stored", func(t *testing.T) {
		s := open(t)
		for _, tc := range []struct {
			key  string
			body string
			size int64
		}{
			{"mshort", "12345", 10},
			{"mlong", "1234567890", 5},
		} {
			if err := s.Put(t.Context(), tc.key, strings.NewReader(tc.body), tc.size); err == nil {
				t.Errorf("Put(%d bytes declared %d) = nil, want an error", len(tc.body), tc.size)
			}
			if _, err := s.Get(t.Context(), tc.key); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
				t.Errorf("Get after a refused Put = %v, want kind %s", err, tkesj.ENotFound)
			}
		}
	})

	t.Run("a body of unknown size is stored once", func(t *testing.T) {
		s := open(t)
		want := randomBytes(t, 100<<10)
		if err := s.Put(t.Context(), "munsized", bytes.NewReader(want), -1); err != nil {
			t.Fatalf("Put(size -1) = %v", err)
		}
		if got := MustGet(t, s, "munsized"); !bytes.Equal(got, want) {
			t.Errorf("Get = %d bytes, want the %d put", len(got), len(want))
		}
		err := s.Put(t.Context(), "munsized", strings.NewReader("again"), -1)
		if k := tkesj.ErrorKindOf(err); k != tkesj.EConflict {
			t.Errorf("second Put(size -1) = %v, want kind %s", err, tkesj.EConflict)
		}
	})

	t.Run("a cancelled Put stores nothing", func(t *testing.T) {
		s := open(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Put(ctx, "mcancelled", strings.NewReader("x"), 1); err == nil {
			t.Errorf("Put(cancelled) = nil, want an error")
		}
		if _, err := s.Get(t.Context(), "mcancelled"); tkesj.ErrorKindOf(err) != tkesj.ENotFound {
			t.Errorf("Get after a cancelled Put = %v, want kind %s", err, tkesj.ENotFound)
		}
	})

	t.Run("concurrent Puts of different keys all land", func(t *testing.T) {
		s := open(t)
		const n = 16
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = randomBytes(t, 64<<10+i)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				key := fmt.Sprintf("mconcurrent%d", i)
				errs[i] = s.Put(t.Context(), key, bytes.NewReader(bodies[i]), int64(len(bodies[i])))
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Put #%d = %v", i, err)
			}
		}
		for i := range n {
			key := fmt.Sprintf("mconcurrent%d", i)
			if got := MustGet(t, s, key); !bytes.Equal(got, bodies[i]) {
				t.Errorf("Get(%q) = %d bytes, not the %d put", key, len(got), len(bodies[i]))
			}
		}
	})

	t.Run("concurrent Puts of one key store one of them whole", func(t *testing.T) {
		s := open(t)
		const n = 8
		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i] = randomBytes(t, 32<<10)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				errs[i] = s.Put(t.Context(), "mcontested", bytes.NewReader(bodies[i]), int64(len(bodies[i])))
			})
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Errorf("Puts #%d and #%d both succeeded", won, i)
			case err == nil:
				won = i
			case tkesj.ErrorKindOf(err) != tkesj.EConflict:
				t.Errorf("Put #%d = %v, want nil or kind %s", i, err, tkesj.EConflict)
			}
		}
		if won < 0 {
			t.Fatalf("no Put succeeded")
		}
		if got := MustGet(t, s, "mcontested"); !bytes.Equal(got, bodies[won]) {
			t.Errorf("Get = %d bytes, not the body of the Put that succeeded", len(got))
		}
	})

	t.Run("Keys lists what was put and not what was deleted", func(t *testing.T) {
		s := open(t)
		start := time.Now().Add(-time.Minute)
		if keys := MustKeys(t, s); len(keys) != 0 {
			t.Errorf("Keys of an empty store = %q, want none", keys)
		}
		want := []string{"ma", "mb", "mc", "md"}
		for _, key := range want {
			MustPut(t, s, key, []byte(key))
		}
		MustPut(t, s, "mdeleted", nil)
		if err := s.Delete(t.Context(), "mdeleted"); err != nil {
			t.Fatal(err)
		}
		var got []string
		err := s.Keys(t.Context(), func(key string, modTime time.Time) error {
			got = append(got, key)
			if modTime.Before(start) || modTime.After(time.Now().Add(time.Minute)) {
				t.Errorf("Keys gave %q a time of %v, want about now", key, modTime)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("Keys = %v", err)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("Keys = %q, want %q", got, want)
		}
	})

	t.Run("Keys stops at the first error of its callback", func(t *testing.T) {
		s := open(t)
		for _, key := range []string{"ma", "mb", "mc"} {
			MustPut(t, s, key, []byte(key))
		}
		stop := errors.New("stop")
		calls := 0
		err := s.Keys(t.Context(), func(string, time.Time) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("Keys = %v after %d calls, want the callback's error after 1", err, calls)
		}
	})
}

// MustPut stores b under key.
func MustPut(tb testing.TB, s tkesj.BlobStore, key string, b []byte) {
	tb.Helper()
	if err := s.Put(context.Background(), key, bytes.NewReader(b), int64(len(b))); err != nil {
		tb.Fatalf("Put(%q, %d bytes) = %v", key, len(b), err)
	}
}

// MustGet returns the blob under key.
func MustGet(tb testing.TB, s tkesj.BlobStore, key string) []byte {
	tb.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		tb.Fatalf("Get(%q) = %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatalf("reading Get(%q): %v", key, err)
	}
	return b
}

// MustKeys returns every key in s, sorted.
func MustKeys(tb testing.TB, s Store) []string {
	tb.Helper()
	var keys []string
	if err := s.Keys(context.Background(), func(key string, _ time.Time) error {
		keys = append(keys, key)
		return nil
	}); err != nil {
		tb.Fatalf("Keys = %v", err)
	}
	slices.Sort(keys)
	return keys
}

func randomBytes(tb testing.TB, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}
