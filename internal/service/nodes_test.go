package service_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/keyring"
	"github.com/tkesj/tkesj/internal/service"
	"github.com/tkesj/tkesj/internal/store"
)

// testKeys is a key ring with a fresh master key and a key store of its
// own; nodes of one deployment share it.
func testKeys(t *testing.T) *keyring.Keyring {
	t.Helper()
	ks, err := keyring.OpenSQLite(filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	master := make([]byte, 32)
	rand.Read(master)
	keys, err := keyring.New(master, ks, 0)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// testNode is one node of a deployment on db and keys, publishing on bus
// (nil: none); pushes wait an hour, so none goes out during a test.
func testNode(t *testing.T, db *store.DB, keys *keyring.Keyring, bus tkesj.Bus) *service.Service {
	t.Helper()
	svc, err := service.New(context.Background(), service.Deps{DB: db, Keys: keys, Bus: bus, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, service.Config{PushDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}
