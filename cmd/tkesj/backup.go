package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tkesj/tkesj/internal/app"
)

// takeFlag removes "--name VALUE" from args and returns VALUE.
func takeFlag(args []string, name string) (string, []string) {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--"+name {
			return args[i+1], append(args[:i:i], args[i+2:]...)
		}
	}
	return "", args
}

// storeCommand runs backup, restore and purge.
func storeCommand(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var dir string
	switch cmd {
	case "backup":
		dir, args = takeFlag(args, "out")
	case "restore":
		dir, args = takeFlag(args, "from")
	}
	cfg, err := app.ParseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	log := app.NewLogger(stderr, cfg.LogLevel)
	switch cmd {
	case "backup":
		if dir == "" {
			return errors.New("usage: tkesj backup --out DIR [--data DIR]")
		}
		if err := app.Backup(ctx, cfg, dir); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "backup written to", dir, "(keys.db and master.key are not in it, on purpose)")
		return nil
	case "restore":
		if dir == "" {
			return errors.New("usage: tkesj restore --from DIR [--data DIR] (stop the server first)")
		}
		st, err := app.Restore(ctx, cfg, dir, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "restored from %s; purged %d accounts destroyed since the backup\n", dir, st.RestoredGhost)
		return nil
	}
	st, err := app.Purge(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "purged %d accounts (%d message bodies, %d media files)\n", st.Accounts, st.Bodies, st.Media)
	return nil
}
