package keyring

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// forEachStore runs fn against a new, empty SQLite store and, when
// TKESJ_TEST_POSTGRES_URL is set, a new PostgreSQL store in a schema of its
// own that is dropped afterwards.
func forEachStore(t *testing.T, fn func(t *testing.T, s Store)) {
	t.Helper()
	t.Run("SQLite", func(t *testing.T) {
		fn(t, newSQLiteStore(t))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		url := os.Getenv("TKESJ_TEST_POSTGRES_URL")
		if url == "" {
			if os.Getenv("CI") != "" {
				t.Fatal("TKESJ_TEST_POSTGRES_URL must be set in CI")
			}
			t.Skip("TKESJ_TEST_POSTGRES_URL is not set")
		}
		fn(t, newPostgresStore(t, url))
	})
}

func newSQLiteStore(t testing.TB) Store {
	t.Helper()
	s, err := OpenSQLite(filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatalf("OpenSQLite() = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newPostgresStore(t testing.TB, url string) Store {
	t.Helper()
	schema := "tkesj_keys_test_" + hex.EncodeToString(randomBytes(t, 8))
	ctx := context.Background()
	s, err := OpenPostgres(ctx, url, schema)
	if err != nil {
		t.Fatalf("OpenPostgres(%q) = %v", schema, err)
	}
	t.Cleanup(func() {
		s.Close()
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return s
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func newKeyring(t testing.TB, master []byte, s Store, cacheSize int) *Keyring {
	t.Helper()
	k, err := New(master, s, cacheSize)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	masters.Store(k, master)
	return k
}

func createKeys(t testing.TB, k *Keyring, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := k.CreateKey(context.Background(), id); err != nil {
			t.Fatalf("CreateKey(%q) = %v", id, err)
		}
	}
}

func mustSeal(t testing.TB, k *Keyring, id string, plaintext, ad []byte) []byte {
	t.Helper()
	sealed, err := k.Seal(context.Background(), id, plaintext, ad)
	if err != nil {
		t.Fatalf("Seal(%q) = %v", id, err)
	}
	return sealed
}

func TestSealOpen(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		k := newKeyring(t, randomBytes(t, 32), s, 0)
		createKeys(t, k, "alice")
		tests := []struct {
			name      string
			plaintext []byte
			ad        []byte
		}{
			{"an empty plaintext round-trips", []byte{}, []byte("users/alice/profile")},
			{"a short plaintext round-trips", []byte("hello, world"), []byte("users/alice/profile")},
			{"a large plaintext round-trips", randomBytes(t, 1<<20), []byte("messages/1/body")},
			{"a plaintext without associated data round-trips", []byte("no ad"), nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sealed := mustSeal(t, k, "alice", tt.plaintext, tt.ad)
				if got, want := len(sealed), len(tt.plaintext)+1+12+16; got != want {
					t.Errorf("len(Seal()) = %d, want %d", got, want)
				}
				if sealed[0] != 1 {
					t.Errorf("Seal()[0] = %d, want version 1", sealed[0])
				}
				got, err := k.Open(ctx, "alice", sealed, tt.ad)
				if err != nil || !bytes.Equal(got, tt.plaintext) {
					t.Errorf("Open(%q) = %.20q, %v, want %.20q, nil", "alice", got, err, tt.plaintext)
				}
				again := mustSeal(t, k, "alice", tt.plaintext, tt.ad)
				if bytes.Equal(again, sealed) {
					t.Errorf("Seal() twice gave the same bytes; want a fresh nonce each time")
				}
			})
		}
	})
}

func TestOpenRejectsBadInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		k := newKeyring(t, randomBytes(t, 32), s, 0)
		createKeys(t, k, "alice", "bob")
		ad := []byte("users/alice/profile")
		sealed := mustSeal(t, k, "alice", []byte("alice's profile"), ad)
		with := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(sealed)) }

		tests := []struct {
			name   string
			id     string
			sealed []byte
			ad     []byte
		}{
			{"a different associated data fails", "alice", sealed, []byte("users/alice/avatar")},
			{"missing associated data fails", "alice", sealed, nil},
			{"another person's key fails", "bob", sealed, ad},
			{"a flipped version byte fails", "alice", with(func(b []byte) []byte { b[0] = 2; return b }), ad},
			{"a flipped nonce byte fails", "alice", with(func(b []byte) []byte { b[5] ^= 1; return b }), ad},
			{"a flipped ciphertext byte fails", "alice", with(func(b []byte) []byte { b[14] ^= 0x80; return b }), ad},
			{"a flipped tag byte fails", "alice", with(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ad},
			{"a truncated input fails", "alice", sealed[:len(sealed)-1], ad},
			{"a header without ciphertext fails", "alice", sealed[:13], ad},
			{"a lone version byte fails", "alice", []byte{1}, ad},
			{"an empty input fails", "alice", []byte{}, ad},
			{"a nil input fails", "alice", nil, ad},
			{"garbage fails", "alice", randomBytes(t, 100), ad},
			{"garbage with a valid version byte fails", "alice", append([]byte{1}, randomBytes(t, 60)...), ad},
			{"an extra trailing byte fails", "alice", append(bytes.Clone(sealed), 0), ad},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := k.Open(ctx, tt.id, tt.sealed, tt.ad)
				// Issue 14 item 9: damage is ErrCorrupt, never ErrShredded
				// (which callers show as a deleted account).
				if err == nil || errors.Is(err, ErrShredded) || !errors.Is(err, ErrCorrupt) {
					t.Errorf("Open(%q) = %q, %v, want ErrCorrupt", tt.id, got, err)
				}
			})
		}

		t.Run("every single flipped bit fails", func(t *testing.T) {
			for i := range len(sealed) * 8 {
				b := bytes.Clone(sealed)
				b[i/8] ^= 1 << (i % 8)
				if got, err := k.Open(ctx, "alice", b, ad); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open(%q) with bit %d flipped = %q, %v, want ErrCorrupt", "alice", i, got, err)
				}
			}
		})
	})
}

func TestInvalidIDs(t *testing.T) {
	ctx := context.Background()
	master := randomBytes(t, 32)
	s := newSQLiteStore(t)
	k := newKeyring(t, master, s, 0)
	before := k.Index("phone", "+15550100")
	tests := []struct {
		name string
		id   string
	}{
		{"an empty id is refused", ""},
		{"the reserved index key id is refused", indexID},
		{"an id holding NUL is refused", "a\x00b"},
		{"an id holding a control character is refused", "tab\tid"},
		{"an id that is not UTF-8 is refused", "\xff\xfe"},
		{"an id longer than 256 bytes is refused", strings.Repeat("x", maxIDLen+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := k.CreateKey(ctx, tt.id); err == nil {
				t.Errorf("CreateKey(%q) = nil, want an error", tt.id)
			}
			if _, err := k.Seal(ctx, tt.id, []byte("x"), nil); err == nil {
				t.Errorf("Seal(%q) = nil error, want an error", tt.id)
			}
			if _, err := k.Open(ctx, tt.id, make([]byte, 40), nil); err == nil {
				t.Errorf("Open(%q) = nil error, want an error", tt.id)
			}
			if err := k.Destroy(ctx, tt.id); err == nil {
				t.Errorf("Destroy(%q) = nil, want an error", tt.id)
			}
		})
	}
	t.Run("the index key is still there afterwards", func(t *testing.T) {
		k2 := newKeyring(t, master, s, 0)
		if after := k2.Index("phone", "+15550100"); !bytes.Equal(before, after) {
			t.Errorf("Index() after a restart = %x, want %x", after, before)
		}
	})
}

func TestCreateKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		k := newKeyring(t, randomBytes(t, 32), s, 0)
		createKeys(t, k, "alice")
		sealed := mustSeal(t, k, "alice", []byte("profile"), nil)

		t.Run("a second CreateKey for the same id is refused", func(t *testing.T) {
			if err := k.CreateKey(ctx, "alice"); err == nil {
				t.Errorf("CreateKey(%q) = nil, want an error", "alice")
			}
		})
		t.Run("the refused CreateKey left the key alone", func(t *testing.T) {
			k2 := newKeyring(t, testMaster(t, k), s, 0) // cold cache
			if got, err := k2.Open(ctx, "alice", sealed, nil); err != nil || string(got) != "profile" {
				t.Errorf("Open(%q) = %q, %v, want %q, nil", "alice", got, err, "profile")
			}
		})
		t.Run("Seal for an id without a key returns ErrShredded", func(t *testing.T) {
			if _, err := k.Seal(ctx, "nobody", []byte("x"), nil); !errors.Is(err, ErrShredded) {
				t.Errorf("Seal(%q) = %v, want %v", "nobody", err, ErrShredded)
			}
		})
		t.Run("the key is stored wrapped, not in the clear", func(t *testing.T) {
			wrapped, err := s.Key(ctx, "alice")
			if err != nil {
				t.Fatalf("Store.Key(%q) = %v", "alice", err)
			}
			if got, want := len(wrapped), 1+12+32+16; got != want {
				t.Errorf("len(wrapped) = %d, want %d", got, want)
			}
			if _, err := openWith(k.master, wrapped, []byte(wrapADPrefix+"bob")); err == nil {
				t.Errorf("the wrapped key of %q unwraps as %q's; want the id bound as associated data", "alice", "bob")
			}
		})
	})
}

// testMaster returns the master key newKeyring made k with, so that a subtest
// can start another Keyring over the same store.
func testMaster(t *testing.T, k *Keyring) []byte {
	t.Helper()
	m, ok := masters.Load(k)
	if !ok {
		t.Fatal("keyring was not made by newKeyring")
	}
	return m.([]byte)
}

var masters sync.Map // *Keyring -> master key, filled by newKeyring

func TestDestroy(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		master := randomBytes(t, 32)
		k := newKeyring(t, master, s, 0)
		createKeys(t, k, "alice", "bob")
		ad := []byte("users/alice/profile")
		aliceSealed := mustSeal(t, k, "alice", []byte("alice's profile"), ad)
		bobSealed := mustSeal(t, k, "bob", []byte("bob's profile"), nil)
		// What a backup of the main database taken now would hold.
		backup := bytes.Clone(aliceSealed)

		if err := k.Destroy(ctx, "alice"); err != nil {
			t.Fatalf("Destroy(%q) = %v", "alice", err)
		}

		t.Run("Open after Destroy returns ErrShredded (R-DEL-3)", func(t *testing.T) {
			if got, err := k.Open(ctx, "alice", aliceSealed, ad); !errors.Is(err, ErrShredded) {
				t.Errorf("Open(%q) = %q, %v, want %v", "alice", got, err, ErrShredded)
			}
		})
		t.Run("a backup of the data taken before Destroy is unreadable after a restart (R-DEL-3)", func(t *testing.T) {
			restored := newKeyring(t, master, s, 0)
			if got, err := restored.Open(ctx, "alice", backup, ad); !errors.Is(err, ErrShredded) {
				t.Errorf("Open(%q) = %q, %v, want %v", "alice", got, err, ErrShredded)
			}
		})
		t.Run("the wrapped key is gone from the key store (R-DEL-3)", func(t *testing.T) {
			if _, err := s.Key(ctx, "alice"); !errors.Is(err, ErrNoKey) {
				t.Errorf("Store.Key(%q) = %v, want %v", "alice", err, ErrNoKey)
			}
			err := s.EachKey(ctx, func(id string, _ []byte) error {
				if id == "alice" {
					t.Errorf("EachKey() lists %q after Destroy", id)
				}
				return nil
			})
			if err != nil {
				t.Errorf("EachKey() = %v", err)
			}
		})
		t.Run("the destroyed key is not in the cache", func(t *testing.T) {
			k.mu.Lock()
			_, cached := k.items["alice"]
			k.mu.Unlock()
			if cached {
				t.Errorf("the cache holds %q after Destroy", "alice")
			}
		})
		t.Run("Seal after Destroy returns ErrShredded", func(t *testing.T) {
			if _, err := k.Seal(ctx, "alice", []byte("x"), nil); !errors.Is(err, ErrShredded) {
				t.Errorf("Seal(%q) = %v, want %v", "alice", err, ErrShredded)
			}
		})
		t.Run("other people's data stays readable", func(t *testing.T) {
			if got, err := k.Open(ctx, "bob", bobSealed, nil); err != nil || string(got) != "bob's profile" {
				t.Errorf("Open(%q) = %q, %v, want %q, nil", "bob", got, err, "bob's profile")
			}
		})
		t.Run("Destroy is idempotent", func(t *testing.T) {
			for _, id := range []string{"alice", "never-existed"} {
				if err := k.Destroy(ctx, id); err != nil {
					t.Errorf("Destroy(%q) = %v, want nil", id, err)
				}
			}
		})
		t.Run("a key created again for the same id cannot open the old data (R-DEL-3)", func(t *testing.T) {
			createKeys(t, k, "alice")
			if got, err := k.Open(ctx, "alice", backup, ad); err == nil {
				t.Errorf("Open(%q) = %q, nil, want an error", "alice", got)
			}
		})
	})
}

func TestSQLiteDestroyLeavesNoCopyOnDisk(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.db")
	s, err := OpenSQLite(path)
	if err != nil {
		t.Fatalf("OpenSQLite() = %v", err)
	}
	defer s.Close()
	k := newKeyring(t, randomBytes(t, 32), s, 0)
	createKeys(t, k, "alice", "bob")
	wrapped, err := s.Key(ctx, "alice")
	if err != nil {
		t.Fatalf("Store.Key(%q) = %v", "alice", err)
	}
	onDisk := func() bool {
		for _, p := range []string{path, path + "-wal", path + "-journal"} {
			b, err := os.ReadFile(p)
			if err != nil && !os.IsNotExist(err) {
				t.Fatalf("read %s: %v", p, err)
			}
			if bytes.Contains(b, wrapped) {
				return true
			}
		}
		return false
	}
	if !onDisk() {
		t.Fatalf("the wrapped key is not in keys.db or its WAL before Destroy; the check below proves nothing")
	}

	t.Run("keys.db is readable by its owner only", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("no Unix permissions")
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("keys.db mode = %04o, want 0600", perm)
		}
	})
	t.Run("after Destroy no copy of the wrapped key is left in keys.db or its WAL (R-DEL-3)", func(t *testing.T) {
		if err := k.Destroy(ctx, "alice"); err != nil {
			t.Fatalf("Destroy(%q) = %v", "alice", err)
		}
		if onDisk() {
			t.Errorf("the wrapped key of %q is still on disk after Destroy", "alice")
		}
	})
}

func TestRestart(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		master := randomBytes(t, 32)
		k := newKeyring(t, master, s, 0)
		ids := []string{"alice", "bob", "carol"}
		createKeys(t, k, ids...)
		sealed := map[string][]byte{}
		for _, id := range ids {
			sealed[id] = mustSeal(t, k, id, []byte("data of "+id), []byte("users/"+id))
		}
		phone := k.Index("phone", "+15550100")

		restarted := newKeyring(t, master, s, 0)
		t.Run("a new Keyring over the same store and master opens old data", func(t *testing.T) {
			for _, id := range ids {
				got, err := restarted.Open(ctx, id, sealed[id], []byte("users/"+id))
				if err != nil || string(got) != "data of "+id {
					t.Errorf("Open(%q) = %q, %v, want %q, nil", id, got, err, "data of "+id)
				}
			}
		})
		t.Run("a new Keyring gives identical Index values", func(t *testing.T) {
			if got := restarted.Index("phone", "+15550100"); !bytes.Equal(got, phone) {
				t.Errorf("Index(%q, %q) = %x, want %x", "phone", "+15550100", got, phone)
			}
		})
		t.Run("New with another master key is refused", func(t *testing.T) {
			if _, err := New(randomBytes(t, 32), s, 0); err == nil {
				t.Errorf("New(other master) = nil error, want an error")
			}
		})
		t.Run("New with a master key of the wrong size is refused", func(t *testing.T) {
			if _, err := New(master[:16], s, 0); err == nil {
				t.Errorf("New(16-byte master) = nil error, want an error")
			}
		})
	})
}

func TestNewRefusesStoreWithDataKeysButNoIndexKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		master := randomBytes(t, 32)
		k := newKeyring(t, master, s, 0)
		createKeys(t, k, "alice")
		if err := s.DeleteKey(ctx, indexID); err != nil {
			t.Fatalf("Store.DeleteKey(index) = %v", err)
		}
		if _, err := New(master, s, 0); err == nil {
			t.Errorf("New() over a store without its index key = nil error, want an error (a new index key would change every Index value)")
		}
	})
}

func TestIndex(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		k := newKeyring(t, randomBytes(t, 32), s, 0)
		t.Run("Index is deterministic and 32 bytes long", func(t *testing.T) {
			a, b := k.Index("phone", "+15550100"), k.Index("phone", "+15550100")
			if !bytes.Equal(a, b) || len(a) != 32 {
				t.Errorf("Index() = %x then %x, want the same 32 bytes", a, b)
			}
		})
		tests := []struct {
			name        string
			kind1, val1 string
			kind2, val2 string
		}{
			{"different values differ", "phone", "+15550100", "phone", "+15550101"},
			{"different kinds differ", "phone", "alice", "username", "alice"},
			{"the kind/value boundary is unambiguous", "ab", "c", "a", "bc"},
			{"an empty value differs from an empty kind", "x", "", "", "x"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a, b := k.Index(tt.kind1, tt.val1), k.Index(tt.kind2, tt.val2)
				if bytes.Equal(a, b) {
					t.Errorf("Index(%q, %q) = Index(%q, %q) = %x, want different values", tt.kind1, tt.val1, tt.kind2, tt.val2, a)
				}
			})
		}
		// Issue 17: the search indexer hashes a message's tokens in one call;
		// the values must be the ones Index gives, or searches (which may
		// hash otherwise) would miss what was indexed.
		t.Run("Indexes gives each value's Index", func(t *testing.T) {
			vals := []string{"sat", "saturday", "", "周六"}
			got := k.Indexes("search", vals)
			if len(got) != len(vals) {
				t.Fatalf("Indexes() = %d values, want %d", len(got), len(vals))
			}
			for i, v := range vals {
				if want := k.Index("search", v); !bytes.Equal(got[i], want) {
					t.Errorf("Indexes()[%d] = %x, want Index(search, %q) = %x", i, got[i], v, want)
				}
			}
			if len(k.Indexes("search", nil)) != 0 {
				t.Error("Indexes(nil) is not empty")
			}
		})
		t.Run("Index is keyed: another key store gives other values", func(t *testing.T) {
			other := newKeyring(t, randomBytes(t, 32), newSQLiteStore(t), 0)
			if bytes.Equal(k.Index("phone", "+15550100"), other.Index("phone", "+15550100")) {
				t.Errorf("Index() is the same under two index keys; want a keyed hash")
			}
		})
	})
}

func TestLoadOrCreateMasterKey(t *testing.T) {
	t.Run("the first call creates a 0600 file of 32 bytes and the second reuses it", func(t *testing.T) {
		dir := t.TempDir()
		first, err := LoadOrCreateMasterKey(dir, "")
		if err != nil || len(first) != 32 {
			t.Fatalf("LoadOrCreateMasterKey() = %d bytes, %v, want 32 bytes, nil", len(first), err)
		}
		fi, err := os.Stat(filepath.Join(dir, "master.key"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != 32 {
			t.Errorf("master.key size = %d, want 32", fi.Size())
		}
		if perm := fi.Mode().Perm(); perm != 0o600 && runtime.GOOS != "windows" {
			t.Errorf("master.key mode = %04o, want 0600", perm)
		}
		second, err := LoadOrCreateMasterKey(dir, "")
		if err != nil || !bytes.Equal(first, second) {
			t.Errorf("LoadOrCreateMasterKey() again = %x, %v, want %x, nil", second, err, first)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("data directory holds %d entries, want only master.key (no temporary files left)", len(entries))
		}
	})
	t.Run("a missing data directory is created", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		if _, err := LoadOrCreateMasterKey(dir, ""); err != nil {
			t.Errorf("LoadOrCreateMasterKey(%q) = %v, want nil", dir, err)
		}
	})
	t.Run("concurrent first calls agree on one key", func(t *testing.T) {
		dir := t.TempDir()
		keys := make([][]byte, 8)
		var wg sync.WaitGroup
		for i := range keys {
			wg.Go(func() {
				key, err := LoadOrCreateMasterKey(dir, "")
				if err != nil {
					t.Errorf("LoadOrCreateMasterKey() = %v", err)
				}
				keys[i] = key
			})
		}
		wg.Wait()
		for i := range keys {
			if !bytes.Equal(keys[i], keys[0]) {
				t.Errorf("call %d got key %x, call 0 got %x; want one key", i, keys[i], keys[0])
			}
		}
	})

	want := randomBytes(t, 32)
	envTests := []struct {
		name  string
		value string
	}{
		{"a standard base64 TKESJ_MASTER_KEY wins over the file", base64.StdEncoding.EncodeToString(want)},
		{"a raw URL base64 TKESJ_MASTER_KEY wins over the file", base64.RawURLEncoding.EncodeToString(want)},
		{"surrounding white space in TKESJ_MASTER_KEY is ignored", " " + base64.StdEncoding.EncodeToString(want) + "\n"},
	}
	for _, tt := range envTests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadOrCreateMasterKey(dir, ""); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreateMasterKey(dir, tt.value)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("LoadOrCreateMasterKey(%q) = %x, %v, want %x, nil", tt.value, got, err, want)
			}
		})
	}

	badEnv := []struct {
		name  string
		value string
	}{
		{"a TKESJ_MASTER_KEY of 16 bytes is refused", base64.StdEncoding.EncodeToString(want[:16])},
		{"a TKESJ_MASTER_KEY of 33 bytes is refused", base64.StdEncoding.EncodeToString(append(bytes.Clone(want), 0))},
		{"a TKESJ_MASTER_KEY that is not base64 is refused", "this is not a key at all, not even close!!"},
		{"a hex TKESJ_MASTER_KEY is refused", hex.EncodeToString(want)},
	}
	for _, tt := range badEnv {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadOrCreateMasterKey(t.TempDir(), tt.value)
			if err == nil {
				t.Fatalf("LoadOrCreateMasterKey(%q) = %x, nil, want an error", tt.value, got)
			}
			if strings.Contains(err.Error(), tt.value) {
				t.Errorf("LoadOrCreateMasterKey(%q) error %q repeats the secret value", tt.value, err)
			}
		})
	}

	fileTests := []struct {
		name     string
		mode     os.FileMode
		size     int
		wantErr  bool
		wantHint string
	}{
		{"a 0644 file is refused with a chmod hint", 0o644, 32, true, "chmod 600"},
		{"a 0640 file is refused with a chmod hint", 0o640, 32, true, "chmod 600"},
		{"a 0604 file is refused with a chmod hint", 0o604, 32, true, "chmod 600"},
		{"a 31-byte file is refused with a restore hint", 0o600, 31, true, "restore"},
		{"a 64-byte file is refused with a restore hint", 0o600, 64, true, "restore"},
		{"an empty file is refused with a restore hint", 0o600, 0, true, "restore"},
		{"an owner-only 0400 file is accepted", 0o400, 32, false, ""},
	}
	for _, tt := range fileTests {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && tt.mode != 0o600 {
				t.Skip("no Unix permissions")
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "master.key")
			content := randomBytes(t, tt.size)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreateMasterKey(dir, "")
			switch {
			case tt.wantErr && err == nil:
				t.Errorf("LoadOrCreateMasterKey() = %x, nil, want an error", got)
			case tt.wantErr && !strings.Contains(err.Error(), tt.wantHint):
				t.Errorf("LoadOrCreateMasterKey() = %v, want an error containing %q", err, tt.wantHint)
			case !tt.wantErr && (err != nil || !bytes.Equal(got, content)):
				t.Errorf("LoadOrCreateMasterKey() = %x, %v, want %x, nil", got, err, content)
			}
		})
	}
}

func TestRotate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		oldMaster, newMaster := randomBytes(t, 32), randomBytes(t, 32)
		k := newKeyring(t, oldMaster, s, 0)
		ids := []string{"alice", "bob", "carol", "dave", "erin"}
		createKeys(t, k, ids...)
		sealed := map[string][]byte{}
		for _, id := range ids {
			sealed[id] = mustSeal(t, k, id, []byte("data of "+id), nil)
		}
		phone := k.Index("phone", "+15550100")

		if err := k.Rotate(ctx, newMaster); err != nil {
			t.Fatalf("Rotate() = %v", err)
		}

		t.Run("a Keyring with the new master opens old data", func(t *testing.T) {
			k2 := newKeyring(t, newMaster, s, 0)
			for _, id := range ids {
				if got, err := k2.Open(ctx, id, sealed[id], nil); err != nil || string(got) != "data of "+id {
					t.Errorf("Open(%q) = %q, %v, want %q, nil", id, got, err, "data of "+id)
				}
			}
			if got := k2.Index("phone", "+15550100"); !bytes.Equal(got, phone) {
				t.Errorf("Index() after Rotate = %x, want %x", got, phone)
			}
		})
		t.Run("the old master can unwrap no key", func(t *testing.T) {
			if _, err := New(oldMaster, s, 0); err == nil {
				t.Errorf("New(old master) = nil error, want an error")
			}
			old, _ := newAEAD(oldMaster)
			err := s.EachKey(ctx, func(id string, wrapped []byte) error {
				if _, err := openWith(old, wrapped, wrapAD(id)); err == nil {
					t.Errorf("the old master still unwraps the key of %q", id)
				}
				return nil
			})
			if err != nil {
				t.Errorf("EachKey() = %v", err)
			}
		})
		t.Run("the rotated Keyring keeps working and wraps new keys under the new master", func(t *testing.T) {
			createKeys(t, k, "frank")
			frank := mustSeal(t, k, "frank", []byte("new"), nil)
			k2 := newKeyring(t, newMaster, s, 0)
			if got, err := k2.Open(ctx, "frank", frank, nil); err != nil || string(got) != "new" {
				t.Errorf("Open(%q) = %q, %v, want %q, nil", "frank", got, err, "new")
			}
		})
		t.Run("Rotate refuses a new master key of the wrong size", func(t *testing.T) {
			if err := k.Rotate(ctx, newMaster[:31]); err == nil {
				t.Errorf("Rotate(31 bytes) = nil, want an error")
			}
		})
	})
}

// failingStore fails PutKey once puts calls have succeeded.
type failingStore struct {
	Store
	puts atomic.Int64
}

func (f *failingStore) PutKey(ctx context.Context, id string, wrapped []byte) error {
	if f.puts.Add(-1) < 0 {
		return errors.New("put key: injected failure")
	}
	return f.Store.PutKey(ctx, id, wrapped)
}

func TestInterruptedRotate(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		oldMaster, newMaster := randomBytes(t, 32), randomBytes(t, 32)
		fs := &failingStore{Store: s}
		fs.puts.Store(1 << 30)
		k := newKeyring(t, oldMaster, fs, 2)
		ids := []string{"alice", "bob", "carol", "dave", "erin"}
		createKeys(t, k, ids...)
		sealed := map[string][]byte{}
		for _, id := range ids {
			sealed[id] = mustSeal(t, k, id, []byte("data of "+id), nil)
		}
		openAll := func(t *testing.T, k *Keyring) {
			t.Helper()
			for _, id := range ids {
				if got, err := k.Open(ctx, id, sealed[id], nil); err != nil || string(got) != "data of "+id {
					t.Errorf("Open(%q) = %q, %v, want %q, nil", id, got, err, "data of "+id)
				}
			}
		}

		fs.puts.Store(3)
		if err := k.Rotate(ctx, newMaster); err == nil {
			t.Fatalf("Rotate() with a failing store = nil, want an error")
		}
		t.Run("after a failed Rotate the Keyring still opens everything", func(t *testing.T) {
			openAll(t, k)
		})
		t.Run("running Rotate again with the same key finishes it", func(t *testing.T) {
			fs.puts.Store(1 << 30)
			if err := k.Rotate(ctx, newMaster); err != nil {
				t.Fatalf("Rotate() again = %v", err)
			}
			openAll(t, k)
			openAll(t, newKeyring(t, newMaster, s, 0))
			if _, err := New(oldMaster, s, 0); err == nil {
				t.Errorf("New(old master) = nil error, want an error")
			}
		})
	})
}

func TestCache(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		const bound = 8
		k := newKeyring(t, randomBytes(t, 32), s, bound)
		var ids []string
		sealed := map[string][]byte{}
		for i := range 40 {
			id := "user-" + string(rune('A'+i))
			ids = append(ids, id)
			createKeys(t, k, id)
			sealed[id] = mustSeal(t, k, id, []byte(id), nil)
			if _, _, size := k.CacheStats(); size > bound {
				t.Fatalf("CacheStats() size = %d after %d keys, want at most %d", size, i+1, bound)
			}
		}
		t.Run("the cache stays within its bound under many ids", func(t *testing.T) {
			for range 3 {
				for _, id := range ids {
					if _, err := k.Open(ctx, id, sealed[id], nil); err != nil {
						t.Fatalf("Open(%q) = %v", id, err)
					}
					if _, _, size := k.CacheStats(); size > bound {
						t.Fatalf("CacheStats() size = %d, want at most %d", size, bound)
					}
				}
			}
			k.mu.Lock()
			n, m := k.lru.Len(), len(k.items)
			k.mu.Unlock()
			if n != m {
				t.Errorf("cache list holds %d entries and map %d, want the same", n, m)
			}
		})
		t.Run("a repeated Open is a cache hit", func(t *testing.T) {
			id := ids[len(ids)-1]
			k.Open(ctx, id, sealed[id], nil)
			hits, misses, _ := k.CacheStats()
			k.Open(ctx, id, sealed[id], nil)
			hits2, misses2, _ := k.CacheStats()
			if hits2 != hits+1 || misses2 != misses {
				t.Errorf("CacheStats() went from %d hits, %d misses to %d, %d; want one more hit", hits, misses, hits2, misses2)
			}
		})
		t.Run("an evicted key is loaded again", func(t *testing.T) {
			_, misses, _ := k.CacheStats()
			if got, err := k.Open(ctx, ids[0], sealed[ids[0]], nil); err != nil || string(got) != ids[0] {
				t.Errorf("Open(%q) = %q, %v, want %q, nil", ids[0], got, err, ids[0])
			}
			if _, misses2, _ := k.CacheStats(); misses2 != misses+1 {
				t.Errorf("CacheStats() misses = %d, want %d", misses2, misses+1)
			}
		})
		t.Run("a cacheSize of 0 means 10000", func(t *testing.T) {
			if k0 := newKeyring(t, testMaster(t, k), s, 0); k0.capacity != 10000 {
				t.Errorf("New(cacheSize 0) capacity = %d, want 10000", k0.capacity)
			}
		})
	})
}

func TestCacheExpiresKeysDestroyedByAnotherProcess(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		master := randomBytes(t, 32)
		node1 := newKeyring(t, master, s, 0)
		var clock atomic.Int64
		clock.Store(time.Now().UnixNano())
		node1.now = func() time.Time { return time.Unix(0, clock.Load()) }
		node2 := newKeyring(t, master, s, 0)
		createKeys(t, node1, "alice")
		sealed := mustSeal(t, node1, "alice", []byte("x"), nil)

		if err := node2.Destroy(ctx, "alice"); err != nil {
			t.Fatalf("Destroy(%q) = %v", "alice", err)
		}
		t.Run("another Keyring stops serving a destroyed key once its cache entry expires (R-DEL-3)", func(t *testing.T) {
			clock.Add(int64(cacheTTL + time.Second))
			if got, err := node1.Open(ctx, "alice", sealed, nil); !errors.Is(err, ErrShredded) {
				t.Errorf("Open(%q) = %q, %v, want %v", "alice", got, err, ErrShredded)
			}
		})
	})
}

// hookStore calls afterKey after every Key has read the store.
type hookStore struct {
	Store
	afterKey func(id string)
}

func (h *hookStore) Key(ctx context.Context, id string) ([]byte, error) {
	wrapped, err := h.Store.Key(ctx, id)
	if h.afterKey != nil {
		h.afterKey(id)
	}
	return wrapped, err
}

func TestDestroyRacesOpen(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		master := randomBytes(t, 32)

		t.Run("an Open that read the key just before Destroy does not bring it back into the cache (R-DEL-3)", func(t *testing.T) {
			k := newKeyring(t, master, s, 0)
			createKeys(t, k, "alice")
			sealed := mustSeal(t, k, "alice", []byte("x"), nil)

			h := &hookStore{Store: s}
			cold := newKeyring(t, master, h, 0)
			loaded, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			h.afterKey = func(id string) {
				if id == "alice" {
					once.Do(func() { close(loaded); <-release })
				}
			}
			done := make(chan error)
			go func() {
				_, err := cold.Open(ctx, "alice", sealed, nil)
				done <- err
			}()
			<-loaded // the Open has the wrapped key in hand
			if err := cold.Destroy(ctx, "alice"); err != nil {
				t.Fatalf("Destroy(%q) = %v", "alice", err)
			}
			close(release)
			// The racing Open overlapped Destroy: either answer is fine.
			if err := <-done; err != nil && !errors.Is(err, ErrShredded) {
				t.Errorf("racing Open(%q) = %v, want nil or %v", "alice", err, ErrShredded)
			}
			if got, err := cold.Open(ctx, "alice", sealed, nil); !errors.Is(err, ErrShredded) {
				t.Errorf("Open(%q) after Destroy = %q, %v, want %v", "alice", got, err, ErrShredded)
			}
			if _, _, size := cold.CacheStats(); size != 0 {
				t.Errorf("CacheStats() size = %d after Destroy, want 0", size)
			}
		})

		t.Run("no Open that starts after Destroy returns sees the key, under many goroutines (R-DEL-3)", func(t *testing.T) {
			// A cache smaller than the working set keeps loads and Destroys
			// interleaving.
			k := newKeyring(t, master, s, 3)
			const nIDs, openers, afterDestroy = 12, 4, 15
			ids := make([]string, nIDs)
			sealed := make([][]byte, nIDs)
			destroyed := make([]atomic.Bool, nIDs)
			opens := make([]atomic.Int64, nIDs)
			for i := range ids {
				ids[i] = "racer-" + string(rune('a'+i))
				createKeys(t, k, ids[i])
				sealed[i] = mustSeal(t, k, ids[i], []byte(ids[i]), nil)
			}
			var failures atomic.Int64
			var wg sync.WaitGroup
			for i := range ids {
				for range openers {
					wg.Go(func() {
						seen := 0
						for seen < afterDestroy {
							before := destroyed[i].Load()
							got, err := k.Open(ctx, ids[i], sealed[i], nil)
							opens[i].Add(1)
							switch {
							case err != nil && !errors.Is(err, ErrShredded):
								failures.Add(1)
								t.Errorf("Open(%q) = %v, want nil or %v", ids[i], err, ErrShredded)
								return
							case before && err == nil:
								failures.Add(1)
								t.Errorf("Open(%q) after Destroy returned = %q, nil, want %v", ids[i], got, ErrShredded)
								return
							case err == nil && string(got) != ids[i]:
								t.Errorf("Open(%q) = %q, want %q", ids[i], got, ids[i])
								return
							}
							if before {
								seen++
							}
						}
					})
				}
			}
			wg.Go(func() {
				for i := range ids {
					for opens[i].Load() < 10 {
						runtime.Gosched()
					}
					if err := k.Destroy(ctx, ids[i]); err != nil {
						t.Errorf("Destroy(%q) = %v", ids[i], err)
					}
					destroyed[i].Store(true)
				}
			})
			wg.Wait()
			if _, _, size := k.CacheStats(); size != 0 {
				t.Errorf("CacheStats() size = %d after destroying every key, want 0", size)
			}
		})
	})
}

func TestStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		t.Run("Key of an absent id returns ErrNoKey", func(t *testing.T) {
			if _, err := s.Key(ctx, "absent"); !errors.Is(err, ErrNoKey) {
				t.Errorf("Key(%q) = %v, want %v", "absent", err, ErrNoKey)
			}
		})
		t.Run("PutKey inserts and then replaces", func(t *testing.T) {
			for _, want := range [][]byte{[]byte("first"), []byte("second")} {
				if err := s.PutKey(ctx, "k", want); err != nil {
					t.Fatalf("PutKey(%q) = %v", "k", err)
				}
				if got, err := s.Key(ctx, "k"); err != nil || !bytes.Equal(got, want) {
					t.Errorf("Key(%q) = %q, %v, want %q, nil", "k", got, err, want)
				}
			}
		})
		t.Run("the reserved id of the index key round-trips", func(t *testing.T) {
			if err := s.PutKey(ctx, indexID, []byte("idx")); err != nil {
				t.Fatalf("PutKey(%q) = %v", indexID, err)
			}
			if got, err := s.Key(ctx, indexID); err != nil || string(got) != "idx" {
				t.Errorf("Key(%q) = %q, %v, want %q, nil", indexID, got, err, "idx")
			}
			if _, err := s.Key(ctx, "index"); !errors.Is(err, ErrNoKey) {
				t.Errorf("Key(%q) = %v, want %v", "index", err, ErrNoKey)
			}
		})
		t.Run("DeleteKey is idempotent", func(t *testing.T) {
			for range 2 {
				if err := s.DeleteKey(ctx, "k"); err != nil {
					t.Errorf("DeleteKey(%q) = %v, want nil", "k", err)
				}
			}
			if _, err := s.Key(ctx, "k"); !errors.Is(err, ErrNoKey) {
				t.Errorf("Key(%q) after DeleteKey = %v, want %v", "k", err, ErrNoKey)
			}
		})
		t.Run("EachKey lists every key across pages and lets fn use the store", func(t *testing.T) {
			defer func(n int) { eachKeyPage = n }(eachKeyPage)
			eachKeyPage = 2
			want := map[string]string{indexID: "idx"}
			for i := range 7 {
				id := "each-" + string(rune('a'+i))
				want[id] = "w" + id
				if err := s.PutKey(ctx, id, []byte(want[id])); err != nil {
					t.Fatalf("PutKey(%q) = %v", id, err)
				}
			}
			got := map[string]string{}
			err := s.EachKey(ctx, func(id string, wrapped []byte) error {
				got[id] = string(wrapped)
				// The SQLite store has one connection: this would deadlock
				// if EachKey held it while calling fn.
				if _, err := s.Key(ctx, id); err != nil {
					return err
				}
				return s.PutKey(ctx, id, wrapped)
			})
			if err != nil {
				t.Fatalf("EachKey() = %v", err)
			}
			if len(got) != len(want) {
				t.Errorf("EachKey() listed %d keys, want %d", len(got), len(want))
			}
			for id, w := range want {
				if got[id] != w {
					t.Errorf("EachKey() gave %q for %q, want %q", got[id], id, w)
				}
			}
		})
		t.Run("EachKey stops at fn's error and returns it unchanged", func(t *testing.T) {
			stop := errors.New("stop")
			calls := 0
			err := s.EachKey(ctx, func(string, []byte) error { calls++; return stop })
			if err != stop || calls != 1 {
				t.Errorf("EachKey() = %v after %d calls, want %v after 1", err, calls, stop)
			}
		})
		t.Run("the conditional writes do not overwrite or resurrect", func(t *testing.T) {
			c, ok := s.(conditionalStore)
			if !ok {
				t.Fatal("the store does not implement conditionalStore")
			}
			if ok, err := c.insertKey(ctx, "cond", []byte("a")); !ok || err != nil {
				t.Errorf("insertKey(new) = %v, %v, want true, nil", ok, err)
			}
			if ok, err := c.insertKey(ctx, "cond", []byte("b")); ok || err != nil {
				t.Errorf("insertKey(existing) = %v, %v, want false, nil", ok, err)
			}
			if ok, err := c.replaceKey(ctx, "cond", []byte("c")); !ok || err != nil {
				t.Errorf("replaceKey(existing) = %v, %v, want true, nil", ok, err)
			}
			if got, _ := s.Key(ctx, "cond"); string(got) != "c" {
				t.Errorf("Key(%q) = %q, want %q", "cond", got, "c")
			}
			s.DeleteKey(ctx, "cond")
			if ok, err := c.replaceKey(ctx, "cond", []byte("d")); ok || err != nil {
				t.Errorf("replaceKey(deleted) = %v, %v, want false, nil", ok, err)
			}
			if _, err := s.Key(ctx, "cond"); !errors.Is(err, ErrNoKey) {
				t.Errorf("Key(%q) after replaceKey of a deleted key = %v, want %v", "cond", err, ErrNoKey)
			}
		})
	})
}

func TestOpenPostgresSchemaName(t *testing.T) {
	url := os.Getenv("TKESJ_TEST_POSTGRES_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TKESJ_TEST_POSTGRES_URL must be set in CI")
		}
		t.Skip("TKESJ_TEST_POSTGRES_URL is not set")
	}
	t.Run("a schema name needing quotes is quoted, not injected", func(t *testing.T) {
		schema := `tkesj keys "test" ` + hex.EncodeToString(randomBytes(t, 4)) + `; DROP TABLE x`
		s, err := OpenPostgres(context.Background(), url, schema)
		if err != nil {
			t.Fatalf("OpenPostgres(%q) = %v", schema, err)
		}
		defer func() {
			s.Close()
			db, _ := sql.Open("pgx", url)
			defer db.Close()
			db.Exec("DROP SCHEMA " + pgx.Identifier{schema}.Sanitize() + " CASCADE")
		}()
		if err := s.PutKey(context.Background(), "a", []byte("b")); err != nil {
			t.Errorf("PutKey() = %v", err)
		}
	})
	t.Run("a schema name longer than 63 bytes is refused", func(t *testing.T) {
		if _, err := OpenPostgres(context.Background(), url, strings.Repeat("s", 64)); err == nil {
			t.Errorf("OpenPostgres(64-byte schema) = nil error, want an error")
		}
	})
}

func FuzzOpen(f *testing.F) {
	ctx := context.Background()
	k := newKeyring(f, randomBytes(f, 32), newSQLiteStore(f), 0)
	createKeys(f, k, "alice")
	ad := []byte("users/alice/profile")
	sealed := mustSeal(f, k, "alice", []byte("hello"), ad)
	f.Add(sealed)
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add(sealed[:len(sealed)-1])
	f.Add(sealed[:13])
	f.Add(append([]byte{2}, sealed[1:]...))
	f.Add(append(bytes.Clone(sealed), sealed...))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := k.Open(ctx, "alice", data, ad)
		if err == nil && (!bytes.Equal(data, sealed) || string(got) != "hello") {
			t.Errorf("Open(%x) = %q, nil, want an error for anything but the genuine ciphertext", data, got)
		}
		// Issue 14 item 9: anything but the genuine ciphertext is damage
		// (ErrCorrupt), never a destroyed key (ErrShredded).
		if err != nil && (!errors.Is(err, ErrCorrupt) || errors.Is(err, ErrShredded)) {
			t.Errorf("Open(%x) = %v, want ErrCorrupt", data, err)
		}
	})
}

func BenchmarkSealOpen(b *testing.B) {
	ctx := context.Background()
	k := newKeyring(b, randomBytes(b, 32), newSQLiteStore(b), 0)
	createKeys(b, k, "alice")
	plaintext := randomBytes(b, 1024)
	ad := []byte("users/alice/profile")
	b.SetBytes(int64(len(plaintext)))
	b.ReportAllocs()
	for b.Loop() {
		sealed, err := k.Seal(ctx, "alice", plaintext, ad)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.Open(ctx, "alice", sealed, ad); err != nil {
			b.Fatal(err)
		}
	}
}

// R-LEG-1, R-DEL-3: Move keeps a destroyed person's data recoverable under a
// held id while the person's own id reads as shredded; destroying the held
// id completes the shredding.
func TestMove(t *testing.T) {
	forEachStore(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		k := newKeyring(t, randomBytes(t, 32), s, 0)
		createKeys(t, k, "u1")
		sealed := mustSeal(t, k, "u1", []byte("evidence"), []byte("row"))
		if err := k.Move(ctx, "u1", "held:u1"); err != nil {
			t.Fatalf("Move = %v", err)
		}
		if _, err := k.Open(ctx, "u1", sealed, []byte("row")); !errors.Is(err, ErrShredded) {
			t.Errorf("Open(u1) after Move = %v, want ErrShredded", err)
		}
		if got, err := k.Open(ctx, "held:u1", sealed, []byte("row")); err != nil || string(got) != "evidence" {
			t.Errorf("Open(held:u1) = %q, %v; want the plaintext", got, err)
		}
		if err := k.Move(ctx, "u1", "held:u1"); !errors.Is(err, ErrShredded) {
			t.Errorf("moving a key that is gone = %v, want ErrShredded", err)
		}
		if err := k.Destroy(ctx, "held:u1"); err != nil {
			t.Fatal(err)
		}
		if _, err := k.Open(ctx, "held:u1", sealed, []byte("row")); !errors.Is(err, ErrShredded) {
			t.Errorf("Open(held:u1) after Destroy = %v, want ErrShredded", err)
		}
	})
}

// TestPostgresPoolIsBoundedAndKept: a burst of cold key loads (each person's
// first message after a restart loads their data key) runs on a few kept
// connections. With database/sql's default pool it opened one backend per
// concurrent load and closed all but two afterwards, so every burst paid
// for new backends again: PostgreSQL collapsed under B2 (issue 17).
func TestPostgresPoolIsBoundedAndKept(t *testing.T) {
	url := os.Getenv("TKESJ_TEST_POSTGRES_URL")
	if url == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("TKESJ_TEST_POSTGRES_URL must be set in CI")
		}
		t.Skip("TKESJ_TEST_POSTGRES_URL is not set")
	}
	s := newPostgresStore(t, url)
	db := s.(*sqlStore).db
	ctx := context.Background()
	const n = 200
	for i := range n {
		if err := s.PutKey(ctx, fmt.Sprintf("k%d", i), []byte("wrapped")); err != nil {
			t.Fatal(err)
		}
	}
	var peak atomic.Int64
	for burst := range 2 {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Key(ctx, fmt.Sprintf("k%d", i)); err != nil {
					t.Errorf("burst %d: Key(k%d) = %v", burst, i, err)
				}
				if open := int64(db.Stats().OpenConnections); open > peak.Load() {
					peak.Store(open)
				}
			}()
		}
		wg.Wait()
	}
	st := db.Stats()
	if p := peak.Load(); p > PostgresPoolSize {
		t.Errorf("%d connections open at once during a burst of %d loads; want at most %d", p, n, PostgresPoolSize)
	}
	if st.MaxIdleClosed > 0 {
		t.Errorf("%d connections closed as surplus idle after a burst; want the pool kept for the next one", st.MaxIdleClosed)
	}
}
