package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/store/storetest"
)

// childEnv makes the test binary run `tkesj serve` instead of the tests, so
// the bench can start its server as a child process without a built binary.
const childEnv = "TKESJ_BENCH_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(serveChild(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// profileEnv, set for TestProfile's servers, names the file the child
// server writes its CPU profile to. tkesj serve itself has no such switch.
const profileEnv = "TKESJ_BENCH_TEST_CPUPROFILE"

// TestProfile runs scenarios with a CPU profile of the server, for finding
// what limits a figure: TKESJ_BENCH_PROFILE=DIR [TKESJ_BENCH_SCENARIOS=B2]
// [TKESJ_BENCH_SIZE=small] [TKESJ_BENCH_DB=postgres://...]
// [TKESJ_BENCH_B2_RATES=2000] [TKESJ_BENCH_SERVER_CPUS=0 TKESJ_BENCH_CLIENT_CPUS=1] go test -run
// TestProfile ./internal/bench, then go tool pprof DIR/<scenario>.pprof.
// Each server writes its profile when stopped; the last one wins per run.
func TestProfile(t *testing.T) {
	dir := os.Getenv("TKESJ_BENCH_PROFILE")
	if dir == "" {
		t.Skip("set TKESJ_BENCH_PROFILE=DIR to profile the server under the bench")
	}
	scen, err := Scenarios(os.Getenv("TKESJ_BENCH_SCENARIOS"))
	if err != nil {
		t.Fatal(err)
	}
	rates, err := ParseRates(os.Getenv("TKESJ_BENCH_B2_RATES"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scen {
		path := filepath.Join(dir, s+".pprof")
		rep, err := Run(context.Background(), Options{Scenarios: []string{s}, Size: os.Getenv("TKESJ_BENCH_SIZE"), DB: os.Getenv("TKESJ_BENCH_DB"), B2Rates: rates, ServerCPUs: os.Getenv("TKESJ_BENCH_SERVER_CPUS"), ClientCPUs: os.Getenv("TKESJ_BENCH_CLIENT_CPUS"),
			ServerCommand: []string{os.Args[0]}, ServerEnv: []string{childEnv + "=1", profileEnv + "=" + path, heapEnv + "=" + filepath.Join(dir, s)}, Log: os.Stderr})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		rep.WriteTable(&b)
		t.Logf("profile in %s\n%s", path, b.String())
	}
}

// heapEnv, set for TestProfile's servers, names the file prefix the child
// writes its heap profile and memory statistics to, at the highest heap seen.
const heapEnv = "TKESJ_BENCH_TEST_HEAPPROFILE"

func peakHeap(prefix string) {
	var peak uint64
	for range time.Tick(500 * time.Millisecond) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse+ms.StackInuse <= peak {
			continue
		}
		peak = ms.HeapInuse + ms.StackInuse
		if f, err := os.Create(prefix + ".heap"); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
		os.WriteFile(prefix+".memstats", fmt.Appendf(nil, "goroutines %d\nHeapInuse %d\nHeapAlloc %d\nStackInuse %d\nSys %d\nHeapSys %d\nHeapIdle %d\nHeapReleased %d\nNextGC %d\nNumGC %d\n",
			runtime.NumGoroutine(), ms.HeapInuse, ms.HeapAlloc, ms.StackInuse, ms.Sys, ms.HeapSys, ms.HeapIdle, ms.HeapReleased, ms.NextGC, ms.NumGC), 0o600)
	}
}

func serveChild(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv(profileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if path := os.Getenv(heapEnv); path != "" {
		go peakHeap(path)
	}
	cfg, err := app.ParseConfig(args, os.Getenv, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if err := app.Serve(ctx, cfg, app.NewLogger(os.Stderr, cfg.LogLevel), nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestBenchTiny runs every scenario at a tiny size and checks that the tool
// works: each scenario produces numbers and no error. It checks no timings.
func TestBenchTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("runs servers and load for ~20 s")
	}
	// Eight scenarios; under -race on a shared 2-core machine B1..B7 alone
	// took the three minutes this once allowed.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log bytes.Buffer
	rep, err := Run(ctx, Options{Size: "tiny", ServerCommand: []string{os.Args[0]}, ServerEnv: []string{childEnv + "=1"}, Log: &log})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("scenarios failed: %v", err)
	}
	want := map[string][]string{
		"B1": {"server RSS per connection", "idle server CPU"},
		"B2": {"highest sustained target rate", "send→deliver p99 at half that rate", "messages per server CPU-second at it"},
		"B3": {"stored writes per group message", "deliveries per server CPU-second (best step)"},
		"B4": {"reconnect → last message pulled"},
		"B5": {"timeline p50 at 10 friends", "timeline p99 at 10 friends", "timeline p99 at 40 friends", "fan-out of one post to 40 friends (median of 1)"},
		"B6": {"until invisible (messages read sender_deleted)", "until purged (no body left in the store)", "until un-indexed (purge finished)"},
		"B7": {"request → downloaded", "extra RSS at peak"},
		"B8": {"1×9 audio: packets forwarded (received)", "1×9 audio: server RSS per active call"},
	}
	want["B2ws"] = want["B2"] // B2's ramp, sending over the WebSocket
	// Figures that are positive however loaded the machine is (a sustained
	// rate or a CPU figure may be 0 on a busy machine or with 10 ms ticks).
	positive := map[string]bool{"send→deliver p99 at half that rate": true, "timeline p50 at 10 friends": true, "fan-out of one post to 40 friends (median of 1)": true, "reconnect → last message pulled": true,
		"until invisible (messages read sender_deleted)": true, "until purged (no body left in the store)": true, "until un-indexed (purge finished)": true, "request → downloaded": true,
		"1×9 audio: packets forwarded (received)": true}
	got := map[string]*Result{}
	for _, s := range rep.Scenarios {
		got[s.Name] = s
	}

	for name, metrics := range want {
		s := got[name]
		if s == nil {
			t.Errorf("%s missing from the report", name)
			continue
		}
		if s.Skipped != "" {
			t.Logf("%s: %s", name, s.Skipped)
			continue
		}
		for _, m := range metrics {
			found := false
			for _, mt := range s.Metrics {
				if mt.Name == m {
					found = true
					if positive[m] && !(mt.Value > 0) {
						t.Errorf("%s %q = %v, want > 0", name, m, mt.Value)
					}
				}
			}
			if !found {
				t.Errorf("%s has no metric %q", name, m)
			}
		}
	}
	if s := got["B3"]; s != nil {
		for _, m := range s.Metrics {
			if m.Name == "stored writes per group message" && m.Value != 1 {
				t.Errorf("stored writes per group message = %v, want 1", m.Value)
			}
		}
	}
	var table, js bytes.Buffer
	rep.WriteTable(&table)
	if err := rep.WriteJSON(&js); err != nil || !json.Valid(js.Bytes()) {
		t.Errorf("JSON report invalid: %v", err)
	}

	t.Logf("\n%s", table.String())
}

func TestScenarios(t *testing.T) {
	got, err := Scenarios("b7,B2ws, b2,B2WS")
	if err != nil || strings.Join(got, ",") != "B2,B2ws,B7" {
		t.Errorf("Scenarios = %v, %v", got, err)
	}
	if _, err := Scenarios("B9"); err == nil {
		t.Error("B9 accepted")
	}
}

func TestSummarize(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 1000; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	l := summarize("x", s)
	if l.P50 != 500 || l.P90 != 900 || l.P99 != 990 || l.P999 != 999 || l.Max != 1000 || l.Count != 1000 {
		t.Errorf("summarize = %+v", l)
	}
}

// Issue 17: on PostgreSQL the report counts the database's CPU too: each
// B2 and B3 step has the CPU of the backends serving the server, and the
// scenarios give messages per (server+DB) CPU-second.
func TestBenchTinyPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs servers and load")
	}
	url := storetest.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var log bytes.Buffer
	rep, err := Run(ctx, Options{Size: "tiny", Scenarios: []string{"B2", "B3"}, DB: url, ServerCommand: []string{os.Args[0]}, ServerEnv: []string{childEnv + "=1"}, Log: &log})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if err := rep.Err(); err != nil {
		t.Fatalf("scenarios failed: %v", err)
	}
	want := map[string]string{"B2": "messages per (server+DB) CPU-second at it", "B3": "group msgs per (server+DB) CPU-second (best)"}
	for _, s := range rep.Scenarios {
		found := false
		for _, m := range s.Metrics {
			found = found || m.Name == want[s.Name]
		}
		if !found {
			t.Errorf("%s has no metric %q", s.Name, want[s.Name])
		}
		dbCPU := 0.0
		for _, st := range s.Steps {
			dbCPU += st.DBCPU
		}
		// Every step stores messages through PostgreSQL: over all of them
		// its backends used some CPU (10 ms ticks).
		if !(dbCPU > 0) {
			t.Errorf("%s: the PostgreSQL backends' CPU over all steps = %v, want > 0", s.Name, dbCPU)
		}
	}
	var table bytes.Buffer
	rep.WriteTable(&table)
	if !strings.Contains(table.String(), "db cpu s") {
		t.Errorf("the table has no database CPU column:\n%s", table.String())
	}
	t.Logf("\n%s", table.String())
}
