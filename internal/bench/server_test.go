package bench

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
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

// buckets reads a histogram from /metrics: unlabeled, or the series of the
// given labels summed (a send over HTTP and over a WebSocket frame).
func TestBucketsFromMetrics(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `# TYPE tkesj_writer_commit_seconds histogram
tkesj_writer_commit_seconds_bucket{le="0.001"} 7
tkesj_writer_commit_seconds_bucket{le="+Inf"} 9
tkesj_http_request_duration_seconds_bucket{route="GET /healthz",le="0.001"} 100
tkesj_http_request_duration_seconds_bucket{route="POST /api/v1/conversations/{id}/messages",le="0.001"} 3
tkesj_http_request_duration_seconds_bucket{route="POST /api/v1/conversations/{id}/messages",le="+Inf"} 4
tkesj_http_request_duration_seconds_bucket{route="WS POST /api/v1/conversations/{id}/messages",le="0.001"} 5
tkesj_http_request_duration_seconds_bucket{route="WS POST /api/v1/conversations/{id}/messages",le="+Inf"} 5
`)
	}))
	defer ts.Close()
	m := (&server{metrics: ts.URL}).scrape()
	inf := math.Inf(1)
	if got := m.buckets("tkesj_writer_commit_seconds"); got[0.001] != 7 || got[inf] != 9 || len(got) != 2 {
		t.Errorf("commit buckets = %v", got)
	}
	if got := m.buckets(requestSeconds, sendRoutes...); got[0.001] != 8 || got[inf] != 9 || len(got) != 2 {
		t.Errorf("send buckets = %v, want the two send routes summed and /healthz left out", got)
	}
	if got := p99ms(nil, m.buckets("tkesj_writer_commit_seconds")); got != 0 {
		t.Errorf("p99 with a failed first scrape = %v, want 0 (not measured)", got)
	}
	if got := (&server{metrics: "http://127.0.0.1:1/metrics"}).scrape().buckets("x"); got != nil {
		t.Errorf("a failed scrape's buckets = %v, want nil", got)
	}
}
