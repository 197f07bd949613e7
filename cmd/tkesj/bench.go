package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tkesj/tkesj/internal/bench"
)

const benchUsage = `Usage: tkesj bench [flags]

Runs the load scenarios against a fresh server started as a child process on
127.0.0.1 (B1 idle sockets, B2 one-to-one ramp, B3 group, B4 offline sync,
B5 Moments, B6 destroy, B7 export, B8 calls) and prints what they measured. Accounts
are seeded straight into a temporary store first; nothing here touches an
existing data directory. See BENCHMARKS.md.

`

// benchCommand is `tkesj bench`.
func benchCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tkesj bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, benchUsage); fs.PrintDefaults() }
	scenario := fs.String("scenario", "all", "comma-separated scenarios (B1,...,B8) or all")
	size := fs.String("size", "small", "small (about a minute for all) or full (the sizes of the targets)")
	db := fs.String("db", "", "postgres://... to run on fresh schemas in that database (dropped afterwards); empty: SQLite")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	keep := fs.Bool("keep", false, "keep the temporary data directories (and PostgreSQL schemas)")
	serverCPUs := fs.String("server-cpus", "", "pin the server with taskset -c LIST (when taskset exists)")
	clientCPUs := fs.String("client-cpus", "", "pin the load generator with taskset -c LIST (when taskset exists)")
	b2Rates := fs.String("b2-rates", "", "comma-separated msg/s for B2's ramp instead of the size's (e.g. 2000 to profile one rate)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	scen, err := bench.Scenarios(*scenario)
	if err != nil {
		return err
	}
	rates, err := bench.ParseRates(*b2Rates)
	if err != nil {
		return err
	}
	rep, err := bench.Run(ctx, bench.Options{Scenarios: scen, Size: *size, DB: *db, Keep: *keep,
		ServerCPUs: *serverCPUs, ClientCPUs: *clientCPUs, B2Rates: rates, Log: stderr})
	if rep != nil {
		if *asJSON {
			if jerr := rep.WriteJSON(stdout); jerr != nil {
				return jerr
			}
		} else {
			rep.WriteTable(stdout)
		}
	}
	if err != nil {
		return err
	}
	return rep.Err()
}
