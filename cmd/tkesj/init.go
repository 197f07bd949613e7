package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tkesj/tkesj/internal/app"
)

// initCommand runs `tkesj init`: what an operator does once, before the
// first `tkesj serve`.
func initCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	dir, rest := takeFlag(args, "dir")
	if dir == "" {
		dir = "."
	}
	cfg, err := app.ParseConfig(rest, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	wrote, err := app.Init(cfg, dir)
	for _, p := range wrote {
		fmt.Fprintln(stdout, "wrote", p)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
Next:
  1. Fill every {{field}} of policy.en.md and policy.zh.md (operator name and
     address, privacy contact, data regions, regulator, dates). Publish the one
     your people read, or both in one file:
       cat policy.zh.md policy.en.md > policy.md
       tkesj admin policy publish --version 2 --major --file policy.md --data %s
     (publishing refuses a text with a field left).
  2. Copy master.key from %s to offline storage; keep it out of data backups.
  3. Read tkesj.env, set TKESJ_SMS_WEBHOOK for production, then:
       set -a; . ./tkesj.env; set +a; tkesj serve
`, cfg.Data, cfg.KeysDir())
	return nil
}
