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
// server each hop of a send could wait that long, and the open-loop
// bench saturated at 2,000 msg/s with 60-90 ms p99 at half that rate
// (BENCHMARKS.md, "Issue 17, fourth pass"). With several Ps on the same
// core the kernel time-slices the threads and a woken one runs within a
// slice; the cost is some thread switching. Measured on one pinned core
// (small size): B2 sustained 4,000-6,000 msg/s instead of 2,000, B3's
// deliveries per CPU-second and last-member p99 unchanged, B1 5.61 KiB
// per connection at 19,000 (was 5.06); 4 Ps did no better for B2 and cost
// B3 a fifth of its deliveries per CPU-second.
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
