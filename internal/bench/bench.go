// Package bench is `tkesj bench`: a load generator and benchmark suite built
// on tkesj's own HTTP and WebSocket API.
//
// For every scenario it creates a fresh data directory (and, on PostgreSQL,
// fresh schemas), seeds accounts straight into the store through the
// bench-only service methods in internal/service/seed.go (no one-time codes,
// one argon2id hash in all), then starts `tkesj serve` as a child process on
// 127.0.0.1 with production settings, so that /proc gives the server's CPU
// time and RSS apart from the load generator's. Load is open-loop: sends are
// scheduled at a fixed rate and each latency is measured from the scheduled
// send time, so a slow server cannot hide its latency by slowing the
// generator down. Every sample is kept; percentiles come from the sorted
// samples. Traffic goes to 127.0.0.1 only, and every loop is bounded in count
// and in time.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Scenario names, in the order they run.
var allScenarios = []string{"B1", "B2", "B2ws", "B3", "B4", "B5", "B6", "B7", "B8"}

// Options say what to run and how.
type Options struct {
	Scenarios  []string // B1..B8; empty or "all" runs every one
	Size       string   // tiny (tests), small (default) or full
	DB         string   // empty: SQLite; postgres://... : fresh schemas in that database
	Keep       bool     // keep the data directories (and schemas) afterwards
	ServerCPUs string   // taskset -c list for the server, when taskset exists
	ClientCPUs string   // taskset -c list for this process, when taskset exists
	// ServerCommand is the argv that runs `tkesj serve` (the serve flags are
	// appended); ServerEnv is added to its environment.
	ServerCommand []string
	ServerEnv     []string
	// B2Rates, when set, is B2's ramp instead of the size's (ParseRates).
	B2Rates []float64
	Log     io.Writer // progress; nil discards
}

// ParseRates reads a comma-separated list of rates in msg/s ("" is none).
func ParseRates(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 || r > 1e6 || math.IsNaN(r) {
			return nil, fmt.Errorf("B2 rate %q: want a number of msg/s above 0 and at most 1000000", f)
		}
		out = append(out, r)
	}
	return out, nil
}

// Report is everything a run measured.
type Report struct {
	Started   time.Time `json:"started"`
	Size      string    `json:"size"`
	Store     string    `json:"store"`
	Machine   Machine   `json:"machine"`
	Scenarios []*Result `json:"scenarios"`
	Seconds   float64   `json:"seconds"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs        int    `json:"cpus"`
	Model       string `json:"model"`
	MemoryMiB   int64  `json:"memory_mib"`
	GoVersion   string `json:"go_version"`
	LoadBefore  string `json:"load_before"`
	LoadAfter   string `json:"load_after"`
	ServerCPUs  string `json:"server_cpus,omitempty"`
	ClientCPUs  string `json:"client_cpus,omitempty"`
	OpenFileMax uint64 `json:"open_files_max"`
}

// Result is one scenario's outcome.
type Result struct {
	Name      string    `json:"name"`
	Title     string    `json:"title"`
	Skipped   string    `json:"skipped,omitempty"`
	Error     string    `json:"error,omitempty"`
	Metrics   []Metric  `json:"metrics"`
	Latencies []Latency `json:"latencies,omitempty"`
	Steps     []Step    `json:"steps,omitempty"`
	Notes     []string  `json:"notes,omitempty"`
	Seconds   float64   `json:"seconds"`
}

// Metric is one named number.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Latency summarises a set of samples, in milliseconds.
type Latency struct {
	Name  string  `json:"name"`
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Step is one load level of a ramp.
type Step struct {
	Rate         float64 `json:"target_per_s"`
	Sent         int     `json:"sent"`
	Failed       int     `json:"failed"`
	Overflow     int     `json:"overflow"`
	Achieved     float64 `json:"achieved_per_s"`
	Deliveries   int64   `json:"deliveries"`
	DeliveredPct float64 `json:"delivered_pct"`
	P50          float64 `json:"p50_ms"`
	P99          float64 `json:"p99_ms"`
	ServerCPU    float64 `json:"server_cpu_s"`
	ClientCPU    float64 `json:"client_cpu_s"` // the load generator's own CPU in the same window
	PerCPUSecond float64 `json:"per_cpu_second"`
	// DBCPU is the CPU of the PostgreSQL backends serving the server in the
	// same window (server.dbCPU); PerServerDBCPUSecond is what PerCPUSecond
	// counts over the server's and those backends' CPU together. Both 0 on
	// SQLite, whose work is in the server's process.
	DBCPU                float64 `json:"db_cpu_s,omitempty"`
	PerServerDBCPUSecond float64 `json:"per_server_db_cpu_second,omitempty"`
	// StatementsPerMessage is the server's SQL statements in the step
	// (tkesj_db_statements_total) over the messages stored; 0: not measured.
	StatementsPerMessage float64 `json:"sql_statements_per_message,omitempty"`
	// WritesPerCommit is the writer's writes over its group commits in the
	// step (tkesj_writer_writes_total, _batches_total); 0: not measured.
	WritesPerCommit float64 `json:"writes_per_commit,omitempty"`
	// CommitP99 is the upper bound, in ms, of the bucket of
	// tkesj_writer_commit_seconds that holds the step's 99th percentile
	// group commit; -1: over the last bound (1 s); 0: not measured.
	CommitP99 float64 `json:"commit_p99_ms,omitempty"`
	// ServerP99 is the same for the send route's time in the server, from
	// its handler's start to its answer (tkesj_http_request_duration_seconds):
	// what of the send→201 tail is spent inside the handler.
	ServerP99 float64 `json:"server_send_p99_ms,omitempty"`
	Sustained bool    `json:"sustained"`
}

func (r *Result) metric(name string, v float64, unit string) {
	r.Metrics = append(r.Metrics, Metric{name, v, unit})
}

func (r *Result) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// Scenarios parses a --scenario value.
func Scenarios(list string) ([]string, error) {
	if list == "" || strings.EqualFold(list, "all") {
		return allScenarios, nil
	}
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		i := slices.IndexFunc(allScenarios, func(name string) bool { return strings.EqualFold(name, s) })
		if i < 0 {
			return nil, fmt.Errorf("unknown scenario %q: choose from %s or all", s, strings.Join(allScenarios, ","))
		}
		s = allScenarios[i]
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(allScenarios, a) - slices.Index(allScenarios, b) })
	return out, nil
}

// Run runs the chosen scenarios and returns what they measured. A scenario
// that fails is reported with its error; the others still run.
func Run(ctx context.Context, o Options) (*Report, error) {
	sz, ok := sizes[o.Size]
	if o.Size == "" {
		o.Size, sz, ok = "small", sizes["small"], true
	}
	if !ok {
		return nil, fmt.Errorf("unknown size %q: tiny, small or full", o.Size)
	}
	if len(o.B2Rates) > 0 {
		sz.B2Rates = o.B2Rates
	}
	scen := o.Scenarios
	if len(scen) == 0 {
		scen = allScenarios
	}
	if len(o.ServerCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		o.ServerCommand = []string{exe, "serve"}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	nofile := raiseFileLimit()
	if o.ClientCPUs != "" {
		if path, err := exec.LookPath("taskset"); err == nil {
			if out, err := exec.Command(path, "-a", "-p", "-c", o.ClientCPUs, fmt.Sprint(os.Getpid())).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("taskset for the client: %v: %s", err, out)
			}
		} else {
			fmt.Fprintln(o.Log, "bench: taskset not found; --client-cpus ignored")
		}
	}
	root, err := os.MkdirTemp("", "tkesj-bench-")
	if err != nil {
		return nil, err
	}
	if !o.Keep {
		defer os.RemoveAll(root)
	} else {
		fmt.Fprintln(o.Log, "bench: keeping data under", root)
	}
	b := &bench{o: o, sz: sz, root: root}
	if err := b.startSMSSink(); err != nil {
		return nil, err
	}
	defer b.sms.Close()
	store := "sqlite"
	if o.DB != "" {
		store = "postgres"
	}
	rep := &Report{Started: time.Now().UTC(), Size: o.Size, Store: store, Machine: machine(o, nofile)}
	start := time.Now()
	// B6 and B7 share one person and one server: B7 exports, then B6 destroys.
	for _, s := range scen {
		var res []*Result
		t0 := time.Now()
		fmt.Fprintf(o.Log, "bench: %s ...\n", s)
		switch s {
		case "B1":
			res = []*Result{b.b1(ctx)}
		case "B2":
			res = []*Result{b.b2(ctx)}
		case "B2ws":
			res = []*Result{b.b2ws(ctx)}
		case "B3":
			res = []*Result{b.b3(ctx)}
		case "B4":
			res = []*Result{b.b4(ctx)}
		case "B5":
			res = []*Result{b.b5(ctx)}
		case "B6":
			res = b.b67(ctx, true, slices.Contains(scen, "B7"))
		case "B7":
			if slices.Contains(scen, "B6") {
				continue // ran with B6
			}
			res = b.b67(ctx, false, true)
		case "B8":
			res = []*Result{b.b8(ctx)}
		}
		for _, r := range res {
			if r.Seconds == 0 {
				r.Seconds = time.Since(t0).Seconds()
			}
			if r.Metrics == nil {
				r.Metrics = []Metric{}
			}
			rep.Scenarios = append(rep.Scenarios, r)
			if r.Error != "" {
				fmt.Fprintf(o.Log, "bench: %s failed: %s\n", r.Name, r.Error)
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.Machine.LoadAfter = loadavg()
	return rep, ctx.Err()
}

// Err returns an error naming the scenarios that failed, or nil.
func (r *Report) Err() error {
	var errs []error
	for _, s := range r.Scenarios {
		if s.Error != "" {
			errs = append(errs, fmt.Errorf("%s: %s", s.Name, s.Error))
		}
	}
	return errors.Join(errs...)
}

func machine(o Options, nofile uint64) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), LoadBefore: loadavg(), ServerCPUs: o.ServerCPUs, ClientCPUs: o.ClientCPUs, OpenFileMax: nofile}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
				m.MemoryMiB = kb / 1024
			}
		}
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(r)
}

// WriteTable writes the report as plain-text tables.
func (r *Report) WriteTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "tkesj bench — size %s, store %s, %s\n", r.Size, r.Store, r.Started.Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %d CPUs (%s), %d MiB, %s; load %s before, %s after", m.CPUs, m.Model, m.MemoryMiB, m.GoVersion, m.LoadBefore, m.LoadAfter)
	if m.ServerCPUs != "" || m.ClientCPUs != "" {
		fmt.Fprintf(w, "; server cpus %q, client cpus %q", m.ServerCPUs, m.ClientCPUs)
	}
	fmt.Fprintf(w, "\n\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "%s %s (%.1f s)\n", s.Name, s.Title, s.Seconds)
		if s.Skipped != "" {
			fmt.Fprintf(w, "  %s\n\n", s.Skipped)
			continue
		}
		if s.Error != "" {
			fmt.Fprintf(w, "  ERROR: %s\n", s.Error)
		}
		for _, mt := range s.Metrics {
			fmt.Fprintf(w, "  %-44s %14s %s\n", mt.Name, num(mt.Value), mt.Unit)
		}
		if len(s.Steps) > 0 {
			// On PostgreSQL two more columns: its backends' CPU, and the
			// rate over the server's and the database's CPU together.
			db := slices.ContainsFunc(s.Steps, func(st Step) bool { return st.DBCPU > 0 })
			dbHead, dbRow := "", func(Step) string { return "" }
			if db {
				dbHead = fmt.Sprintf(" %9s %13s", "db cpu s", "per srv+db-s")
				dbRow = func(st Step) string { return fmt.Sprintf(" %9s %13s", num(st.DBCPU), num(st.PerServerDBCPUSecond)) }
			}
			fmt.Fprintf(w, "  %10s %8s %6s %8s %10s %10s %9s %9s %9s %10s %11s%s %7s %10s %10s %10s %s\n", "target/s", "sent", "failed", "overflow", "achieved/s", "delivered", "p50 ms", "p99 ms", "cpu s", "client cpu", "per cpu-s", dbHead, "sql/msg", "per commit", "commit p99", "srv p99", "sustained")
			for _, st := range s.Steps {
				fmt.Fprintf(w, "  %10s %8d %6d %8d %10s %9.1f%% %9s %9s %9s %10s %11s%s %7s %10s %10s %10s %v\n", num(st.Rate), st.Sent, st.Failed, st.Overflow, num(st.Achieved),
					st.DeliveredPct, num(st.P50), num(st.P99), num(st.ServerCPU), num(st.ClientCPU), num(st.PerCPUSecond), dbRow(st), num(st.StatementsPerMessage), num(st.WritesPerCommit), bucketBound(st.CommitP99), bucketBound(st.ServerP99), st.Sustained)
			}
		}
		if len(s.Latencies) > 0 {
			fmt.Fprintf(w, "  %-34s %8s %9s %9s %9s %9s %9s\n", "latency (ms)", "n", "p50", "p90", "p99", "p99.9", "max")
			for _, l := range s.Latencies {
				fmt.Fprintf(w, "  %-34s %8d %9s %9s %9s %9s %9s\n", l.Name, l.Count, num(l.P50), num(l.P90), num(l.P99), num(l.P999), num(l.Max))
			}
		}
		for _, n := range s.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "total %.1f s\n", r.Seconds)
}

// bucketBound writes Step.CommitP99 or ServerP99 as "≤ X" (a bucket's
// bound in ms).
func bucketBound(ms float64) string {
	switch {
	case ms == 0:
		return "0"
	case ms < 0:
		return "> last"
	}
	return "≤ " + num(ms)
}

func num(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%.0f", v)
	case v >= 1000 || v <= -1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100 || v <= -100:
		return fmt.Sprintf("%.1f", v)
	case v >= 1 || v <= -1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}
