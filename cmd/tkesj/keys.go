package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tkesj/tkesj/internal/app"
)

// keysCommand runs `tkesj keys rotate`.
func keysCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errors.New("usage: tkesj keys rotate [--data DIR] [--db URL] [--out FILE]")
	}
	var out string
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		if rest[i] == "--out" && i+1 < len(rest) {
			out = rest[i+1]
			rest = append(rest[:i:i], rest[i+2:]...)
			break
		}
	}
	cfg, err := app.ParseConfig(rest, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if err := app.RotateMasterKey(ctx, cfg, out); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "master key rotated; every data key is re-wrapped")
	return nil
}
