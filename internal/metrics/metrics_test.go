package metrics

import (
	"strings"
	"testing"
)

func TestTextFormat(t *testing.T) {
	r := New()
	c := r.CounterVec("reqs_total", "Requests.", "route", "code")
	c.Add(1, "GET /a", "2xx")
	c.Add(2, "GET /a", "2xx")
	h := r.HistogramVec("lat_seconds", "Latency.", []float64{0.1, 1}, "route")
	h.Observe(0.05, "GET /a")
	h.Observe(0.5, "GET /a")
	h.Observe(5, "GET /a")
	r.GaugeFunc("conns", "Connections.", func() float64 { return 3 })
	r.CounterMapFunc("purged_total", "Purged.", "category", func() map[string]float64 { return map[string]float64{"b": 2, "a": 1} })
	var b strings.Builder
	r.Expose(&b)
	for _, want := range []string{
		"# TYPE reqs_total counter\n",
		`reqs_total{route="GET /a",code="2xx"} 3` + "\n",
		`lat_seconds_bucket{route="GET /a",le="0.1"} 1` + "\n",
		`lat_seconds_bucket{route="GET /a",le="1"} 2` + "\n",
		`lat_seconds_bucket{route="GET /a",le="+Inf"} 3` + "\n",
		`lat_seconds_sum{route="GET /a"} 5.55` + "\n",
		`lat_seconds_count{route="GET /a"} 3` + "\n",
		"conns 3\n",
		`purged_total{category="a"} 1` + "\n" + `purged_total{category="b"} 2` + "\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("exposition lacks %q:\n%s", want, b.String())
		}
	}
}

// Sample reads back what Expose wrote: unlabeled samples and a histogram's
// series by their labels; a missing or prefix-only name is not found.
func TestSampleReadsExpose(t *testing.T) {
	r := New()
	r.GaugeFunc("conns", "Connections.", func() float64 { return 3 })
	h := r.HistogramVec("commit_seconds", "Commits.", []float64{0.001, 1})
	h.Observe(0.0005)
	h.Observe(2)
	var b strings.Builder
	r.Expose(&b)
	lines := strings.Split(b.String(), "\n")
	for name, want := range map[string]float64{"conns": 3, "commit_seconds_count": 2, `commit_seconds_bucket{le="0.001"}`: 1, `commit_seconds_bucket{le="+Inf"}`: 2} {
		if got, ok := Sample(lines, name); !ok || got != want {
			t.Errorf("Sample(%s) = %v, %v; want %v", name, got, ok, want)
		}
	}
	for _, name := range []string{"conn", "missing"} {
		if v, ok := Sample(lines, name); ok {
			t.Errorf("Sample(%s) = %v, found; want not found", name, v)
		}
	}
}
