#!/bin/bash
# Before/after comparison of two tkesj builds with `tkesj bench`, as issue 17
# asks for it: 5 small runs and 2 full runs of each build, alternating, on
# SQLite and PostgreSQL, server pinned to CPU 0 and load client to CPU 1.
#
#   scripts/bench-compare/run.sh /tmp/before-bin /tmp/after-bin
#   python3 scripts/bench-compare/summarize.py      # the tables (BENCHMARKS.md)
#
# Each run's JSON goes to $RUNS (default /tmp/bench-compare); a run whose
# file exists is skipped, so the script can be stopped and started again.
# A run that fails part-way (the bench exits non-zero) keeps what it
# measured as NAME.json.tmp. Takes ~40 minutes on the 2-core box.
set -u
BEFORE=${1:?before binary} AFTER=${2:?after binary}
RUNS=${RUNS:-/tmp/bench-compare}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
mkdir -p "$RUNS"
cd /tmp
run() { # name binary size store scenarios
	local out=$RUNS/$1.json db=()
	[ -s "$out" ] && return
	[ "$4" = pg ] && db=(--db "$PG")
	echo "$(date -u +%T) $1 start, load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RUNS/log"
	timeout 1200 "$2" bench --size "$3" --scenario "$5" --server-cpus 0 --client-cpus 1 "${db[@]}" --json >"$out.tmp" 2>"$RUNS/$1.err" && mv "$out.tmp" "$out"
	echo "$(date -u +%T) $1 end, load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RUNS/log"
}
for store in sqlite pg; do
	sc=B1,B2,B3,B6
	[ $store = pg ] && sc=B2,B3
	for i in 1 2 3 4 5; do
		run small-$store-before-$i "$BEFORE" small $store $sc
		run small-$store-after-$i "$AFTER" small $store $sc,B2ws
	done
	for i in 1 2; do
		run full-$store-before-$i "$BEFORE" full $store $sc
		run full-$store-after-$i "$AFTER" full $store $sc,B2ws
	done
done
echo "$(date -u +%T) done" >>"$RUNS/log"
