// Package metrics is a small Prometheus registry: counters and histograms
// with labels, and values read from functions at scrape time, written in the
// Prometheus text format (version 0.0.4). It has no dependencies beyond the
// standard library. cmd/tkesj and internal/app import it; label values must
// come from bounded sets (route patterns, never URLs).
package metrics

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Registry holds metrics and serves them. It is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	metrics []metric
}

type metric interface {
	write(w io.Writer)
}

// New returns an empty registry.
func New() *Registry { return &Registry{} }

func (r *Registry) add(m metric) {
	r.mu.Lock()
	r.metrics = append(r.metrics, m)
	r.mu.Unlock()
}

// ServeHTTP writes every metric in the text format.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	r.Expose(w)
}

// Expose writes every metric in the text format.
func (r *Registry) Expose(w io.Writer) {
	r.mu.Lock()
	ms := append([]metric(nil), r.metrics...)
	r.mu.Unlock()
	for _, m := range ms {
		m.write(w)
	}
}

func header(w io.Writer, name, help, typ string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, strings.ReplaceAll(help, "\n", " "), name, typ)
}

func escape(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

func labelString(names, values []string, extra ...string) string {
	if len(names) == 0 && len(extra) == 0 {
		return ""
	}
	parts := make([]string, 0, len(names)+1)
	for i, n := range names {
		parts = append(parts, n+`="`+escape(values[i])+`"`)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		parts = append(parts, extra[i]+`="`+escape(extra[i+1])+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// funcMetric reads its value when scraped.
type funcMetric struct {
	name, help, typ string
	fn              func() float64
}

func (m *funcMetric) write(w io.Writer) {
	header(w, m.name, m.help, m.typ)
	fmt.Fprintf(w, "%s %s\n", m.name, formatFloat(m.fn()))
}

// GaugeFunc adds a gauge read from fn at scrape time.
func (r *Registry) GaugeFunc(name, help string, fn func() float64) {
	r.add(&funcMetric{name: name, help: help, typ: "gauge", fn: fn})
}

// CounterFunc adds a counter read from fn at scrape time; fn must never decrease.
func (r *Registry) CounterFunc(name, help string, fn func() float64) {
	r.add(&funcMetric{name: name, help: help, typ: "counter", fn: fn})
}

// labeledFunc reads a set of labeled values when scraped.
type labeledFunc struct {
	name, help, typ, label string
	fn                     func() map[string]float64
}

func (m *labeledFunc) write(w io.Writer) {
	header(w, m.name, m.help, m.typ)
	vals := m.fn()
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s%s %s\n", m.name, labelString([]string{m.label}, []string{k}), formatFloat(vals[k]))
	}
}

// CounterMapFunc adds a counter with one label whose values fn reports at
// scrape time (a fixed set of keys).
func (r *Registry) CounterMapFunc(name, help, label string, fn func() map[string]float64) {
	r.add(&labeledFunc{name: name, help: help, typ: "counter", label: label, fn: fn})
}

// CounterVec is a counter with labels.
type CounterVec struct {
	name, help string
	labels     []string
	mu         sync.Mutex
	values     map[string]*counterCell
}

type counterCell struct {
	values []string
	n      float64
}

// CounterVec adds a counter with the given label names.
func (r *Registry) CounterVec(name, help string, labels ...string) *CounterVec {
	c := &CounterVec{name: name, help: help, labels: labels, values: map[string]*counterCell{}}
	r.add(c)
	return c
}

// Add adds v to the cell with these label values (in the order of the names).
func (c *CounterVec) Add(v float64, values ...string) {
	k := strings.Join(values, "\x00")
	c.mu.Lock()
	cell := c.values[k]
	if cell == nil {
		cell = &counterCell{values: append([]string(nil), values...)}
		c.values[k] = cell
	}
	cell.n += v
	c.mu.Unlock()
}

func (c *CounterVec) write(w io.Writer) {
	header(w, c.name, c.help, "counter")
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]string, 0, len(c.values))
	for k := range c.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cell := c.values[k]
		fmt.Fprintf(w, "%s%s %s\n", c.name, labelString(c.labels, cell.values), formatFloat(cell.n))
	}
}

// HistogramVec is a histogram with labels.
type HistogramVec struct {
	name, help string
	labels     []string
	buckets    []float64
	mu         sync.Mutex
	values     map[string]*histCell
}

type histCell struct {
	values []string
	counts []uint64 // per bucket, not cumulative
	sum    float64
	n      uint64
}

// DefaultBuckets suit request latencies in seconds.
var DefaultBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// HistogramVec adds a histogram with the given buckets (upper bounds,
// ascending) and label names.
func (r *Registry) HistogramVec(name, help string, buckets []float64, labels ...string) *HistogramVec {
	h := &HistogramVec{name: name, help: help, labels: labels, buckets: buckets, values: map[string]*histCell{}}
	r.add(h)
	return h
}

// Observe records v in the cell with these label values.
func (h *HistogramVec) Observe(v float64, values ...string) {
	k := strings.Join(values, "\x00")
	h.mu.Lock()
	cell := h.values[k]
	if cell == nil {
		cell = &histCell{values: append([]string(nil), values...), counts: make([]uint64, len(h.buckets))}
		h.values[k] = cell
	}
	for i, b := range h.buckets {
		if v <= b {
			cell.counts[i]++
			break
		}
	}
	cell.sum += v
	cell.n++
	h.mu.Unlock()
}

func (h *HistogramVec) write(w io.Writer) {
	header(w, h.name, h.help, "histogram")
	h.mu.Lock()
	defer h.mu.Unlock()
	keys := make([]string, 0, len(h.values))
	for k := range h.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cell := h.values[k]
		var cum uint64
		for i, b := range h.buckets {
			cum += cell.counts[i]
			fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelString(h.labels, cell.values, "le", formatFloat(b)), cum)
		}
		fmt.Fprintf(w, "%s_bucket%s %d\n", h.name, labelString(h.labels, cell.values, "le", "+Inf"), cell.n)
		fmt.Fprintf(w, "%s_sum%s %s\n", h.name, labelString(h.labels, cell.values), formatFloat(cell.sum))
		fmt.Fprintf(w, "%s_count%s %d\n", h.name, labelString(h.labels, cell.values), cell.n)
	}
}

// Sample reads the value of the sample named name (with its labels as
// Expose writes them, e.g. `x_bucket{le="1"}`, or none) from lines of an
// exposition; ok is false when it is not there. For the bench and tests
// that read /metrics back.
func Sample(lines []string, name string) (v float64, ok bool) {
	for _, l := range lines {
		if s, found := strings.CutPrefix(l, name+" "); found {
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				return f, true
			}
		}
	}
	return 0, false
}
