package bench

import (
	"math"
	"testing"
)

// The step's commit p99 (issue 17) is read from the difference of two
// scrapes of a cumulative histogram: what happened before the step does not
// count, and the answer is the bound of the bucket holding the 99th
// percentile.
func TestQuantileBoundOfAStep(t *testing.T) {
	inf := math.Inf(1)
	before := map[float64]float64{0.001: 500, 0.002: 900, 0.004: 1000, inf: 1000}
	// In the step: 980 commits under 1 ms, 15 under 2 ms, 5 under 4 ms.
	after := map[float64]float64{0.001: 1480, 0.002: 1895, 0.004: 2000, inf: 2000}
	if got := quantileBound(before, after, 0.99); got != 0.002 {
		t.Errorf("p99 bound = %v, want 0.002 (the step alone; with what came before it would be 0.004)", got)
	}
	if got := quantileBound(before, after, 0.5); got != 0.001 {
		t.Errorf("p50 bound = %v, want 0.001", got)
	}
	// Two slow commits of 100: the p99 is in the overflow bucket.
	slow := map[float64]float64{0.001: 598, 0.002: 998, 0.004: 1098, inf: 1100}
	if got := quantileBound(before, slow, 0.99); !math.IsInf(got, 1) {
		t.Errorf("p99 bound = %v, want +Inf", got)
	}
	if got := quantileBound(before, before, 0.99); got != 0 {
		t.Errorf("no commits: %v, want 0", got)
	}
	if got := quantileBound(nil, nil, 0.99); got != 0 {
		t.Errorf("no histogram: %v, want 0", got)
	}
}
