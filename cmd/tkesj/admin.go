package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tkesj/tkesj/internal/app"
)

const adminUsage = `usage:
  tkesj admin policy publish --version V --file TEXT [--major] [--data DIR | --db URL]
  tkesj admin rights list [--data DIR | --db URL]
  tkesj admin rights advance --id ID --status in_progress|done|refused [--answer TEXT] [--data DIR | --db URL]
  tkesj admin staff add --username U --role support|moderator|privacy_officer|admin [--data DIR | --db URL]
  tkesj admin staff remove --username U [--data DIR | --db URL]`

// adminCommand runs operator tasks against the store. They run beside a live
// server; connected clients hear of a new policy when their node next reads it.
func adminCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if handled, err := opsAdminCommand(ctx, args, getenv, stdout, stderr); handled { // recipients, stats, announce, cease (ops.go)
		return err
	}
	if len(args) < 2 {
		return errors.New(adminUsage)
	}
	what := args[0] + " " + args[1]
	rest := args[2:]
	var version, file, id, status, answer, username, role string
	major := false
	for _, f := range []struct {
		name string
		dst  *string
	}{{"version", &version}, {"file", &file}, {"id", &id}, {"status", &status}, {"answer", &answer}, {"username", &username}, {"role", &role}} {
		*f.dst, rest = takeFlag(rest, f.name)
	}
	for i, a := range rest {
		if a == "--major" {
			major, rest = true, append(rest[:i:i], rest[i+1:]...)
			break
		}
	}
	cfg, err := app.ParseConfig(rest, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, app.NewLogger(stderr, cfg.LogLevel))
	if err != nil {
		return err
	}
	defer a.Close()
	switch what {
	case "policy publish":
		if file == "" {
			return errors.New(adminUsage)
		}
		text, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		if left := app.UnfilledFields(string(text)); len(left) > 0 {
			return fmt.Errorf("%s still has template fields to fill: %s", file, strings.Join(left, " "))
		}
		p, err := a.Service.PublishPolicy(ctx, version, major, string(text))
		if err != nil {
			return err
		}
		kind := "minor: announced"
		if p.Major {
			kind = "major: everyone must accept it before continuing"
		}
		fmt.Fprintf(stdout, "published policy %s (%s)\n", p.Version, kind)
		return nil
	case "rights list":
		qs, err := a.Service.OpenRightsRequests(ctx)
		if err != nil {
			return err
		}
		for _, q := range qs {
			fmt.Fprintf(stdout, "%s\t%s\t%s\tdue %s\n", q.ID, q.Kind, q.Status, q.DueAt.Format(time.DateOnly))
		}
		return nil
	case "rights advance":
		q, err := a.Service.AdvanceRightsRequest(ctx, id, status, answer)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is now %s\n", q.ID, q.Status)
		return nil
	case "staff add": // R-SEC-1; logged in the audit log as the operator's step
		m, err := a.Service.SetStaffRoleByUsername(ctx, username, role)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s (%s) is now %s\n", m.Username, m.UserID, m.Role)
		return nil
	case "staff remove":
		if err := a.Service.RemoveStaffByUsername(ctx, username); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s is no longer staff\n", username)
		return nil
	}
	return errors.New(adminUsage)
}
