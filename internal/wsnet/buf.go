package wsnet

import (
	"math/bits"
	"sync"
)

// Buffers come from pools by power-of-two size, 4 KiB to 128 KiB; bigger
// ones are allocated and dropped. A connection holds a read buffer only
// while a frame is incomplete, and a write buffer only while a batch is
// being written.
const (
	minBufShift = 12 // 4 KiB: a read, and most batches
	maxBufShift = 17 // 128 KiB
	// readSize is the read buffer's size when no frame is in flight.
	readSize = 1 << minBufShift
	// batchSize is how many bytes of queued frames one write takes at most
	// (a bigger frame goes alone).
	batchSize = 64 << 10
)

var bufPools [maxBufShift - minBufShift + 1]sync.Pool

// getBuf returns an empty buffer of capacity at least n.
func getBuf(n int) *[]byte {
	shift := max(minBufShift, bits.Len(uint(n-1)))
	if n <= 0 {
		shift = minBufShift
	}
	if shift > maxBufShift {
		b := make([]byte, 0, n)
		return &b
	}
	if p, ok := bufPools[shift-minBufShift].Get().(*[]byte); ok {
		*p = (*p)[:0]
		return p
	}
	b := make([]byte, 0, 1<<shift)
	return &b
}

// putBuf gives b back to its pool; nil and odd sizes are dropped.
func putBuf(b *[]byte) {
	if b == nil {
		return
	}
	c := cap(*b)
	shift := bits.Len(uint(c)) - 1
	if c != 1<<shift || shift < minBufShift || shift > maxBufShift {
		return
	}
	*b = (*b)[:0]
	bufPools[shift-minBufShift].Put(b)
}
