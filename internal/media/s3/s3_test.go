package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/tkesj/tkesj/internal/media/mediatest"
)

// fakeS3 starts an in-process S3-compatible server with an empty in-memory
// backend and returns its host:port.
func fakeS3(tb testing.TB) string {
	tb.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	tb.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

var buckets atomic.Int64

// MustOpen opens a Store on a fresh fake S3 server and a fresh bucket.
func MustOpen(tb testing.TB, prefix string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), Config{
		Endpoint:  fakeS3(tb),
		Bucket:    fmt.Sprintf("tkesj-test-%d", buckets.Add(1)),
		AccessKey: "test-access",
		SecretKey: "test-secret",
		Region:    "us-east-1",
		Prefix:    prefix,
	})
	if err != nil {
		tb.Fatalf("Open = %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	// R-MED-4: S3-compatible object storage is one of the two backends.
	t.Run("with no prefix", func(t *testing.T) {
		mediatest.Run(t, func(t *testing.T) mediatest.Store { return MustOpen(t, "") })
	})
	t.Run("under a prefix", func(t *testing.T) {
		mediatest.Run(t, func(t *testing.T) mediatest.Store { return MustOpen(t, "media/") })
	})
}

// RealServer returns the configuration of the real S3-compatible server the
// tests run against: TKESJ_TEST_S3_URL, http://ACCESS:SECRET@HOST:PORT (.ci/run
// starts versitygw and sets it). Without it the test is skipped, except in
// CI, where it must be set. Each call names a fresh bucket.
func RealServer(tb testing.TB) Config {
	tb.Helper()
	raw := os.Getenv("TKESJ_TEST_S3_URL")
	if raw == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("TKESJ_TEST_S3_URL must be set in CI (.ci/run starts an S3-compatible server)")
		}
		tb.Skip("TKESJ_TEST_S3_URL not set")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User == nil {
		tb.Fatalf("TKESJ_TEST_S3_URL = %q: want http://ACCESS:SECRET@HOST:PORT", raw)
	}
	secret, _ := u.User.Password()
	b := make([]byte, 5)
	rand.Read(b)
	return Config{
		Endpoint:  u.Host,
		Bucket:    "tkesj-test-" + hex.EncodeToString(b),
		AccessKey: u.User.Username(),
		SecretKey: secret,
		Region:    "us-east-1",
		UseSSL:    u.Scheme == "https",
	}
}

// R-MED-4 against a real S3-compatible server, not an in-process fake: what
// an operator gets with --media s3://... behaves as the disk store does.
func TestConformanceOnRealServer(t *testing.T) {
	open := func(prefix string) func(t *testing.T) mediatest.Store {
		return func(t *testing.T) mediatest.Store {
			cfg := RealServer(t)
			cfg.Prefix = prefix
			s, err := Open(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Open on the real server = %v", err)
			}
			t.Cleanup(func() { s.removeAll(t) })
			return s
		}
	}
	t.Run("with no prefix", func(t *testing.T) { mediatest.Run(t, open("")) })
	t.Run("under a prefix", func(t *testing.T) { mediatest.Run(t, open("media/")) })
}

// removeAll deletes every object and the bucket, so test runs leave nothing
// on the shared server.
func (s *Store) removeAll(tb testing.TB) {
	ctx := context.Background()
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			break
		}
		s.client.RemoveObject(ctx, s.bucket, obj.Key, minio.RemoveObjectOptions{})
	}
	if err := s.client.RemoveBucket(ctx, s.bucket); err != nil {
		tb.Logf("remove test bucket %s: %v", s.bucket, err)
	}
}

func TestKeysStaysUnderItsPrefix(t *testing.T) {
	a := MustOpen(t, "a/")
	// A second store on the same bucket under another prefix, and objects
	// that are not keys, must not show up in a's Keys.
	b := &Store{client: a.client, bucket: a.bucket, prefix: "b/"}
	mediatest.MustPut(t, a, "mmine", []byte("x"))
	mediatest.MustPut(t, b, "mtheirs", []byte("y"))
	for _, name := range []string{"a/sub/dir", "a/UPPER", "loose"} {
		if _, err := a.client.PutObject(context.Background(), a.bucket, name, strings.NewReader("z"), 1, putOptions()); err != nil {
			t.Fatal(err)
		}
	}
	if got := mediatest.MustKeys(t, a); len(got) != 1 || got[0] != "mmine" {
		t.Errorf("Keys = %q, want [mmine]", got)
	}
	if got := mediatest.MustGet(t, b, "mtheirs"); string(got) != "y" {
		t.Errorf("Get under the other prefix = %q, want %q", got, "y")
	}
}

func TestOpen(t *testing.T) {
	endpoint := fakeS3(t)
	cfg := Config{Endpoint: endpoint, Bucket: "tkesj-open", AccessKey: "k", SecretKey: "s", Region: "us-east-1"}
	t.Run("a missing bucket is created and an existing one reused", func(t *testing.T) {
		s1, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatalf("first Open = %v", err)
		}
		mediatest.MustPut(t, s1, "mkept", []byte("kept"))
		s2, err := Open(context.Background(), cfg)
		if err != nil {
			t.Fatalf("second Open = %v", err)
		}
		if got := mediatest.MustGet(t, s2, "mkept"); string(got) != "kept" {
			t.Errorf("Get through the second Store = %q, want %q", got, "kept")
		}
	})
	tests := []struct {
		name string
		cfg  Config
	}{
		{"an endpoint with a scheme is refused", Config{Endpoint: "http://" + endpoint, Bucket: "b"}},
		{"a missing endpoint is refused", Config{Bucket: "b"}},
		{"a missing bucket name is refused", Config{Endpoint: endpoint}},
		{"an invalid bucket name is refused", Config{Endpoint: endpoint, Bucket: "Not_A_Bucket"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Open(context.Background(), tt.cfg); err == nil {
				t.Errorf("Open(%+v) = nil error, want one", tt.cfg)
			}
		})
	}
}

func putOptions() minio.PutObjectOptions { return minio.PutObjectOptions{} }

// An upload of unknown size (the service streams sealed media) must not
// reserve a buffer for the largest object S3 allows: minio-go's default is
// 528 MiB per upload, and a few at once stalled a node.
func TestPutOfUnknownSizeBuffersOnePart(t *testing.T) {
	s := MustOpen(t, "")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := s.Put(t.Context(), "msmall", strings.NewReader("a small sealed picture"), -1); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 4*partSize {
		t.Errorf("Put of 22 bytes of unknown size allocated %d MiB, want at most %d", got>>20, 4*partSize>>20)
	}
}
