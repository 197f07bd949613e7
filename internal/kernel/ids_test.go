package kernel

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"
)

// TestMessageIDsSortByTime (issue 17): message ids sort as strings in the
// order of their send times, so the index on messages.id grows at its right
// edge; they keep the "m" prefix and IDEncoding's characters, carry the
// millisecond they were sent and nothing else, and differ within one
// millisecond.
func TestMessageIDsSortByTime(t *testing.T) {
	at := time.Date(2026, 12, 2, 20, 30, 0, 0, time.UTC)
	var prev string
	for i := range 5000 {
		// Steps of 1 ms to about 9 years, crossing every character's
		// carry from "z" to "2".
		step := time.Duration(i) * time.Millisecond
		if i >= 1000 {
			step = time.Duration(i) * time.Duration(i) * time.Duration(i) * 2 * time.Millisecond
		}
		id := NewMessageID(at.Add(step))
		if len(id) != 21 || id[0] != 'm' || strings.Trim(id[1:], "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("NewMessageID = %q: want m and 20 characters of IDEncoding", id)
		}
		if id <= prev {
			t.Fatalf("%q (at +%v) sorts before or as %q", id, step, prev)
		}
		prev = id
		b, err := messageIDEncoding.DecodeString(id[1:])
		if err != nil || len(b) != 12 {
			t.Fatalf("%q does not decode to 12 bytes: %v", id, err)
		}
		var ms [8]byte
		copy(ms[2:], b[:6])
		if got := int64(binary.BigEndian.Uint64(ms[:])); got != at.Add(step).UnixMilli() {
			t.Fatalf("%q holds %d ms, want %d", id, got, at.Add(step).UnixMilli())
		}
	}
	seen := map[string]bool{}
	for range 1000 {
		id := NewMessageID(at)
		if seen[id] {
			t.Fatalf("%q twice within one millisecond", id)
		}
		seen[id] = true
	}
}
