package webpush

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// KeysFile is the name of the VAPID key file inside the data directory.
const KeysFile = "vapid.json"

// Keys is the server's VAPID key pair (RFC 8292), base64url without padding.
// Public is the uncompressed P-256 point (65 bytes) that browsers get as
// applicationServerKey; Private is the raw 32-byte scalar. Subscriptions are
// bound to Public: replacing the pair silently orphans every subscription.
//
// Keys prints and logs without Private.
type Keys struct {
	Public  string `json:"public"`
	Private string `json:"private"`
}

// String hides the private key from fmt's %v and %s.
func (k Keys) String() string { return "webpush.Keys{Public: " + k.Public + ", Private: <redacted>}" }

// GoString hides the private key from fmt's %#v.
func (k Keys) GoString() string { return k.String() }

// LogValue hides the private key from log/slog.
func (k Keys) LogValue() slog.Value { return slog.GroupValue(slog.String("public", k.Public)) }

// LoadOrCreateKeys returns the VAPID key pair in dataDir/vapid.json, creating
// it (mode 0600) on first start. The file is published atomically, so a crash
// never leaves half a key, and when two processes start at once both end up
// with the pair that reached the disk first. A file that exists but does not
// hold a valid pair is an error, never replaced: a new pair would orphan every
// subscription.
func LoadOrCreateKeys(dataDir string) (Keys, error) {
	path := filepath.Join(dataDir, KeysFile)
	k, err := readKeys(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	k, err = generateKeys()
	if err != nil {
		return Keys{}, fmt.Errorf("create vapid keys: %w", err)
	}
	if err := writeNewFile(dataDir, path, k); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKeys(path) // another process was first
		}
		return Keys{}, fmt.Errorf("create vapid keys: %w", err)
	}
	return k, nil
}

func readKeys(path string) (Keys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Keys{}, fmt.Errorf("load vapid keys: %w", err)
	}
	var k Keys
	if err := json.Unmarshal(data, &k); err != nil {
		// json errors name offsets and types, never values.
		return Keys{}, fmt.Errorf("load vapid keys from %s: %w", path, err)
	}
	if _, err := parseKeys(k); err != nil {
		return Keys{}, fmt.Errorf("load vapid keys from %s: %w", path, err)
	}
	return k, nil
}

// writeNewFile writes k to a temporary file (created 0600) and hard-links it
// to path, which fails with fs.ErrExist rather than overwrite.
func writeNewFile(dir, path string, k Keys) error {
	data, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".vapid-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
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
	if err := os.Link(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the new name durable
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func generateKeys() (Keys, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Keys{}, err
	}
	d, err := priv.Bytes()
	if err != nil {
		return Keys{}, err
	}
	pub, err := priv.PublicKey.Bytes()
	if err != nil {
		return Keys{}, err
	}
	return Keys{Public: b64(pub), Private: b64(d)}, nil
}

// parseKeys checks that k is a P-256 pair whose halves belong together.
// Its errors never hold key material.
func parseKeys(k Keys) (*ecdsa.PrivateKey, error) {
	d, err := base64.RawURLEncoding.DecodeString(k.Private)
	if err != nil {
		return nil, errors.New("vapid private key is not base64url")
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return nil, errors.New("vapid private key is not a P-256 scalar")
	}
	pub, err := base64.RawURLEncoding.DecodeString(k.Public)
	if err != nil {
		return nil, errors.New("vapid public key is not base64url")
	}
	want, err := priv.PublicKey.Bytes()
	if err != nil || !bytes.Equal(pub, want) {
		return nil, errors.New("vapid public key does not match the private key")
	}
	return priv, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
