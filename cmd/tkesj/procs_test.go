package main

import (
	"runtime"
	"testing"
)

// Issue 17 (no requirement of its own): a server given one CPU still runs with two Ps, so a
// woken goroutine does not wait behind the writer for sysmon's 10 ms
// preemption; GOMAXPROCS set by the operator wins, and a bad
// TKESJ_MIN_PROCS is refused in words.
func TestSchedulerFloor(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	runtime.GOMAXPROCS(1)
	if err := schedulerFloor(env(nil)); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != defaultMinProcs {
		t.Errorf("one CPU: GOMAXPROCS = %d, want the floor %d", got, defaultMinProcs)
	}

	runtime.GOMAXPROCS(1)
	if err := schedulerFloor(env(map[string]string{"GOMAXPROCS": "1"})); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS=1 set by the operator: got %d Ps", got)
	}

	runtime.GOMAXPROCS(1)
	if err := schedulerFloor(env(map[string]string{"TKESJ_MIN_PROCS": "1"})); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("TKESJ_MIN_PROCS=1 turns the floor off: got %d Ps", got)
	}

	runtime.GOMAXPROCS(8)
	if err := schedulerFloor(env(nil)); err != nil {
		t.Fatal(err)
	}
	if got := runtime.GOMAXPROCS(0); got != 8 {
		t.Errorf("eight CPUs: GOMAXPROCS = %d, want 8 (a floor, never a cap)", got)
	}

	for _, bad := range []string{"0", "-2", "two", "1e3", "257", "٢"} {
		if err := schedulerFloor(env(map[string]string{"TKESJ_MIN_PROCS": bad})); err == nil {
			t.Errorf("TKESJ_MIN_PROCS=%q accepted", bad)
		}
	}
}
