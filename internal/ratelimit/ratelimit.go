// Package ratelimit keeps per-key token buckets in memory, with a bound on how
// many keys it holds. It is per node: a cluster of n nodes allows up to n times
// the rate, which is acceptable for abuse control. Anyone may import it.
package ratelimit

import (
	"math"
	"sync"
	"time"
)

// Limiter allows Burst events at once per key and refills at Burst per Window.
type Limiter struct {
	burst  float64
	rate   float64 // tokens per second
	max    int
	now    func() time.Time
	mu     sync.Mutex
	bucket map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a limiter of burst events per window, holding at most maxKeys keys.
func New(burst int, window time.Duration, maxKeys int) *Limiter {
	if maxKeys <= 0 {
		maxKeys = 100_000
	}
	return &Limiter{burst: float64(burst), rate: float64(burst) / window.Seconds(), max: maxKeys, now: time.Now, bucket: map[string]*bucket{}}
}

// SetClock replaces the clock (tests).
func (l *Limiter) SetClock(now func() time.Time) { l.now = now }

// Allow takes one token for key. When none is left it reports false and how
// long until one is.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.bucket[key]
	if b == nil {
		if len(l.bucket) >= l.max {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.bucket[key] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// Reset forgets key (for example after a successful login).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	delete(l.bucket, key)
	l.mu.Unlock()
}

// sweep drops buckets that have refilled; if that frees nothing, it drops
// everything, trading a moment of leniency for a hard bound on memory.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.bucket {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.bucket, k)
		}
	}
	if len(l.bucket) >= l.max {
		clear(l.bucket)
	}
}

// Len reports how many keys are held (a metric).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.bucket)
}
