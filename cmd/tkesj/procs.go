package main

import (
	"fmt"
	"runtime"
	"strconv"
)

// defaultMinProcs is the fewest Ps (GOMAXPROCS) the server runs with.
const defaultMinProcs = 2

// schedulerFloor gives the Go scheduler at least TKESJ_MIN_PROCS Ps
// (default 2) when the machine (or the process's CPU affinity, or its
// cgroup) would give it fewer, unless GOMAXPROCS is set.
//
// With one P, a goroutine made ready by the network (a send's request,
// a delivery's socket write) waits until the running goroutine yields or
// sysmon preempts it after 10 ms; the group-commit writer and the search
// indexer run pure-Go SQLite for milliseconds at a time, so on a one-core
// server each hop of a send could wait that long. With several Ps on the
// same core the kernel time-slices the threads and a woken one runs within
// a slice; the cost is some thread switching. Two rather than four: the
// measurements are in BENCHMARKS.md, "Issue 17, fourth pass".
func schedulerFloor(getenv func(string) string) error {
	if getenv("GOMAXPROCS") != "" {
		return nil
	}
	n := defaultMinProcs
	if v := getenv("TKESJ_MIN_PROCS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 256 {
			return fmt.Errorf("TKESJ_MIN_PROCS=%q: want a whole number from 1 to 256", v)
		}
	}
	if runtime.GOMAXPROCS(0) < n {
		runtime.GOMAXPROCS(n)
	}
	return nil
}
