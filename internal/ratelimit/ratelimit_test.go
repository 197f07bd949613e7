package ratelimit

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(3, time.Minute, 10)
	l.SetClock(func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("Allow #%d = false, want true within the burst", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait <= 0 || wait > 20*time.Second {
		t.Fatalf("Allow past the burst = %v, %v; want false with a wait up to 20s", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another key was limited by the first")
	}
	now = now.Add(wait)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("after the announced wait, Allow = false")
	}
}

func TestLimiterStaysBounded(t *testing.T) {
	l := New(1, time.Hour, 100)
	for i := 0; i < 10_000; i++ {
		l.Allow(string(rune(i)))
	}
	if n := l.Len(); n > 100 {
		t.Errorf("Len = %d after 10000 keys, want at most 100", n)
	}
}
