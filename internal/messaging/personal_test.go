package messaging

import (
	"testing"
	"time"
)

// Issue 17 (B6): a purge's un-indexing batches grow while they are quick
// and shrink when one holds the writer longer than unindexTarget, within
// their bounds, so a message sent meanwhile waits for one short batch.
func TestNextUnindexBatch(t *testing.T) {
	for _, c := range []struct {
		size int
		took time.Duration
		want int
	}{
		{64, time.Millisecond, 128},                // quick: doubled
		{64, unindexTarget * 3 / 4, 64},            // about right: kept
		{64, 2 * unindexTarget, 32},                // slow: scaled down
		{64, 100 * unindexTarget, unindexMin},      // very slow: the floor
		{unindexMax, time.Microsecond, unindexMax}, // the ceiling
		{unindexMin, time.Hour, unindexMin},        // never below the floor
		{1000, 4 * unindexTarget, 250},             // a quarter for four times the target
	} {
		if got := nextUnindexBatch(c.size, c.took); got != c.want {
			t.Errorf("nextUnindexBatch(%d, %s) = %d, want %d", c.size, c.took, got, c.want)
		}
	}
}
