package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// R-DEL-3: the key store and master key live apart from the data directory
// that operators back up, so a data backup cannot bring back a destroyed
// person. `tkesj serve --data DIR` alone keeps them beside DIR, never in it.
func TestKeysLiveApartFromTheData(t *testing.T) {
	t.Run("by default the keys go beside the data directory, not inside", func(t *testing.T) {
		root := t.TempDir()
		cfg := Config{Data: filepath.Join(root, "tkesj-data")}
		if got, want := cfg.KeysDir(), filepath.Join(root, "tkesj-data-keys"); got != want {
			t.Fatalf("KeysDir() = %q, want %q", got, want)
		}
		_, ks, err := OpenKeyring(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ks.Close()
		for _, name := range []string{"master.key", "keys.db"} {
			if _, err := os.Stat(filepath.Join(cfg.KeysDir(), name)); err != nil {
				t.Errorf("%s is not in the keys directory: %v", name, err)
			}
			if _, err := os.Stat(filepath.Join(cfg.Data, name)); err == nil {
				t.Errorf("%s is in the data directory", name)
			}
		}
		st, err := os.Stat(filepath.Join(cfg.KeysDir(), "master.key"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("master.key mode = %v, want 0600", st.Mode().Perm())
		}
		if st, _ := os.Stat(cfg.KeysDir()); st.Mode().Perm() != 0o700 {
			t.Errorf("keys directory mode = %v, want 0700", st.Mode().Perm())
		}
	})
	t.Run("a relative data directory gets a relative sibling", func(t *testing.T) {
		if got := (Config{Data: "./tkesj-data/"}).KeysDir(); got != "tkesj-data-keys" {
			t.Errorf("KeysDir() = %q, want tkesj-data-keys", got)
		}
	})
	t.Run("keys inside the data directory are refused", func(t *testing.T) {
		root := t.TempDir()
		for _, keys := range []string{root, filepath.Join(root, "keys"), filepath.Join(root, "a", "..", "keys")} {
			_, _, err := OpenKeyring(context.Background(), Config{Data: root, Keys: keys})
			if err == nil || !strings.Contains(err.Error(), "inside the data directory") {
				t.Errorf("OpenKeyring with --keys %s inside --data = %v, want a refusal", keys, err)
			}
		}
	})
	t.Run("an installation with keys in the data directory has them moved out", func(t *testing.T) {
		root := t.TempDir()
		keys := filepath.Join(root, "elsewhere")
		old := Config{Data: filepath.Join(root, "data"), Keys: keys}
		k, ks, err := OpenKeyring(context.Background(), old)
		if err != nil {
			t.Fatal(err)
		}
		id := "u1"
		if err := k.CreateKey(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		sealed, err := k.Seal(context.Background(), id, []byte("kept"), nil)
		if err != nil {
			t.Fatal(err)
		}
		ks.Close()
		// Put the files where an older tkesj kept them.
		if err := os.MkdirAll(old.Data, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"master.key", "keys.db"} {
			if err := os.Rename(filepath.Join(keys, name), filepath.Join(old.Data, name)); err != nil {
				t.Fatal(err)
			}
		}
		k, ks, err = OpenKeyring(context.Background(), old)
		if err != nil {
			t.Fatalf("OpenKeyring after an upgrade = %v", err)
		}
		defer ks.Close()
		if got, err := k.Open(context.Background(), id, sealed, nil); err != nil || string(got) != "kept" {
			t.Errorf("Open of what was sealed before the move = %q, %v", got, err)
		}
		if _, err := os.Stat(filepath.Join(old.Data, "master.key")); err == nil {
			t.Error("master.key is still in the data directory")
		}
	})
}
