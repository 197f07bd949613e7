// Package passhash hashes passwords with argon2id (R-ACC-3) and bounds how many
// hashes run at once, since each one holds Params.MemoryKiB of memory.
// Only the service layer imports it.
package passhash

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// Default is chosen for a 2-core server. OWASP's floor for argon2id is 46 MiB
// with one pass; we take two passes, which costs ~48 ms of one core here
// (BenchmarkDefault: 24 ms per pass), doubles an attacker's cost per guess,
// and keeps login p99 well under 100 ms. With the default bound of 4 hashes at
// once, hashing holds at most ~184 MiB.
var Default = Params{MemoryKiB: 46 * 1024, Time: 2, Threads: 1}

// Hasher hashes and verifies passwords with at most a bounded number running at once.
type Hasher struct {
	p   Params
	sem chan struct{}
}

// New returns a Hasher running at most concurrent hashes at once (4 when <= 0).
func New(p Params, concurrent int) *Hasher {
	if concurrent <= 0 {
		concurrent = 4
	}
	return &Hasher{p: p, sem: make(chan struct{}, concurrent)}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Hash returns an encoded PHC string: $argon2id$v=19$m=..,t=..,p=..$salt$hash.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-h.sem }()
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	sum := argon2.IDKey([]byte(password), salt, h.p.Time, h.p.MemoryKiB, h.p.Threads, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.p.MemoryKiB, h.p.Time, h.p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(sum)), nil
}

// ErrMalformed means a stored hash could not be parsed.
var ErrMalformed = errors.New("passhash: malformed hash")

// Verify reports whether password matches encoded, in constant time. It uses
// the parameters stored in encoded, so old hashes keep working after Default changes.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	var p Params
	var version int
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformed
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformed
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil ||
		p.MemoryKiB == 0 || p.MemoryKiB > 1<<20 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return false, ErrMalformed
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false, ErrMalformed
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-h.sem }()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Dummy burns the time of one verification, so that a login for an unknown
// account takes as long as one for a known account with a wrong password.
func (h *Hasher) Dummy(ctx context.Context, password string) {
	if err := h.acquire(ctx); err != nil {
		return
	}
	defer func() { <-h.sem }()
	argon2.IDKey([]byte(password), make([]byte, 16), h.p.Time, h.p.MemoryKiB, h.p.Threads, 32)
}
