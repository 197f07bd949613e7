package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tkesj/tkesj/internal/app"
)

// R-DEL-3 groundwork: rotating the master key keeps every account readable,
// and the old master key no longer opens anything.
func TestRotateMasterKey(t *testing.T) {
	s := startServer(t, "sqlite")
	p := s.register(t, "Rotor")
	s.stop()
	oldKey, err := os.ReadFile(filepath.Join(s.cfg.KeysDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := app.RotateMasterKey(context.Background(), s.cfg, ""); err != nil {
		t.Fatalf("RotateMasterKey = %v", err)
	}
	newKey, _ := os.ReadFile(filepath.Join(s.cfg.KeysDir(), "master.key"))
	if len(newKey) != 32 || bytes.Equal(newKey, oldKey) {
		t.Fatalf("master.key after rotation: %d bytes, changed=%v", len(newKey), !bytes.Equal(newKey, oldKey))
	}
	if _, err := os.Stat(filepath.Join(s.cfg.KeysDir(), "master.key.new")); !os.IsNotExist(err) {
		t.Errorf("master.key.new left behind: %v", err)
	}
	s = runServer(t, s.cfg, s.SMS)
	me := s.do(t, p.Token, "GET", "/api/v1/me", nil)
	want(t, me, 200, "")
	if me.str(t, "nickname") != "Rotor" {
		t.Errorf("after rotation, nickname = %q", me.str(t, "nickname"))
	}
	s.login(t, p, "after-rotation")
	s.stop()

	// The old master key cannot open the key store any more.
	if err := os.WriteFile(filepath.Join(s.cfg.KeysDir(), "master.key"), oldKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := app.OpenKeyring(context.Background(), s.cfg); err == nil {
		t.Error("the old master key still opens the keyring after rotation")
	}
}
