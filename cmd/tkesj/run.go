package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/tkesj/tkesj/internal/app"
)

const usage = `tkesj — a self-hostable messenger whose privacy policy is enforced in code.

Usage:
  tkesj init [--dir DIR] [--data DIR] [--keys DIR]
                         a new deployment: master key (0600) apart from the data,
                         DIR/tkesj.env and policy templates (English, Chinese) to fill
  tkesj serve [flags]    run the server (tkesj serve -h lists the flags)
  tkesj keys rotate      re-wrap every data key under a new master key (server stopped)
  tkesj backup --out DIR online snapshot of the embedded store and media (never the keys)
  tkesj restore --from DIR  restore a backup (server stopped); destroyed accounts stay destroyed
  tkesj purge            finish destroying accounts (after a PostgreSQL restore)
  tkesj admin ...        publish policy versions, work the rights-request queue
  tkesj bench [flags]    load-test a fresh server on 127.0.0.1 (BENCHMARKS.md)
  tkesj version          print the version
`

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		cfg, err := app.ParseConfig(args[1:], getenv, stderr)
		if errors.Is(err, flag.ErrHelp) {
			return nil
		} else if err != nil {
			return err
		}
		cfg.Console = stderr
		if err := schedulerFloor(getenv); err != nil {
			return err
		}
		return app.Serve(ctx, cfg, app.NewLogger(stderr, cfg.LogLevel), nil)
	case "init":
		return initCommand(args[1:], getenv, stdout, stderr)
	case "backup", "restore", "purge":
		return storeCommand(ctx, args[0], args[1:], getenv, stdout, stderr)
	case "admin":
		return adminCommand(ctx, args[1:], getenv, stdout, stderr)
	case "keys":
		return keysCommand(ctx, args[1:], getenv, stdout, stderr)
	case "bench":
		return benchCommand(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "tkesj", version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
