//go:build race

package realtime_test

// raceEnabled tells memory measurements that the race detector inflates them.
const raceEnabled = true
