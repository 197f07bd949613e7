package passhash

import (
	"context"
	"strings"
	"testing"
)

var cheap = Params{MemoryKiB: 64, Time: 1, Threads: 1}

// R-ACC-3: passwords are stored with argon2id and verified in constant time.
func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := New(cheap, 2)
	enc, err := h.Hash(ctx, "Correct-horse-9")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(enc, "Correct") {
		t.Fatalf("Hash = %q, want a PHC argon2id string without the password", enc)
	}
	again, _ := h.Hash(ctx, "Correct-horse-9")
	if again == enc {
		t.Error("two hashes of one password are equal; the salt is not random")
	}
	for _, tc := range []struct {
		pw   string
		want bool
	}{{"Correct-horse-9", true}, {"correct-horse-9", false}, {"", false}} {
		if ok, err := h.Verify(ctx, tc.pw, enc); ok != tc.want || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want %v", tc.pw, ok, err, tc.want)
		}
	}
}

func TestVerifyRefusesMalformedHashes(t *testing.T) {
	h := New(cheap, 1)
	for _, enc := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=64,t=1,p=1$!!$AAAA", "$argon2id$v=18$m=64,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=64,t=0,p=1$AAAA$AAAA"} {
		if ok, err := h.Verify(context.Background(), "x", enc); ok || err == nil {
			t.Errorf("Verify(x, %q) = %v, %v; want false, ErrMalformed", enc, ok, err)
		}
	}
}

func TestHashWaitsForASlotAndHonoursCancel(t *testing.T) {
	h := New(cheap, 1)
	h.sem <- struct{}{} // the only slot is taken
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "x"); err == nil {
		t.Error("Hash with every slot taken and a cancelled context succeeded")
	}
}

// BenchmarkDefault measures the production parameters on this machine.
func BenchmarkDefault(b *testing.B) {
	h := New(Default, 1)
	for i := 0; i < b.N; i++ {
		h.Hash(context.Background(), "Correct-horse-9")
	}
}
