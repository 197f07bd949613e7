package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/service"
)

const opsUsage = `usage:
  tkesj admin recipients add --kind affiliate|partner|sdk --name N --purpose P --categories a,b --region R --deletion-url URL [--delivery-url URL] [--secret S]
  tkesj admin recipients list
  tkesj admin stats [--days N]
  tkesj admin announce --title T (--body TEXT | --file TEXT)
  tkesj admin cease --notice-days N [--message TEXT]
(each also takes [--data DIR | --db URL])`

// opsAdminCommand runs the admin subcommands of sharing and operations
// (recipients, stats, announce, cease). It reports handled false for any
// other subcommand, which adminCommand then runs.
func opsAdminCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (handled bool, err error) {
	if len(args) == 0 || args[0] == "help" {
		return true, errors.New(adminUsage + "\n" + strings.TrimPrefix(opsUsage, "usage:\n"))
	}
	what, rest := args[0], args[1:]
	switch what {
	case "recipients":
		if len(args) < 2 {
			return true, errors.New(opsUsage)
		}
		what, rest = "recipients "+args[1], args[2:]
	case "stats", "announce", "cease":
	default:
		return false, nil
	}
	v := map[string]string{}
	for _, name := range []string{"kind", "name", "purpose", "categories", "region", "deletion-url", "delivery-url", "secret", "days", "title", "body", "file", "notice-days", "message"} {
		v[name], rest = takeFlag(rest, name)
	}
	cfg, err := app.ParseConfig(rest, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	} else if err != nil {
		return true, err
	}
	a, err := app.Open(ctx, cfg, app.NewLogger(stderr, cfg.LogLevel))
	if err != nil {
		return true, err
	}
	defer a.Close()
	svc := a.Service
	switch what {
	case "recipients add": // R-SHR-1; logged in the audit log as the operator's step
		var cats []string
		if v["categories"] != "" {
			cats = strings.Split(v["categories"], ",")
		}
		r, secret, err := svc.AddRecipientAsOperator(ctx, service.RecipientInput{Kind: v["kind"], Name: v["name"], Purpose: v["purpose"], Categories: cats,
			Region: v["region"], DeletionURL: v["deletion-url"], DeliveryURL: v["delivery-url"], Secret: v["secret"]})
		if err != nil {
			return true, err
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\nsigning secret (shown once): %s\n", r.ID, r.Kind, r.Name, r.Region, secret)
		return true, nil
	case "recipients list":
		rs, err := svc.Recipients(ctx)
		if err != nil {
			return true, err
		}
		for _, r := range rs {
			fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, r.Name, r.Region, strings.Join(r.Categories, ","), r.Purpose)
		}
		return true, nil
	case "stats": // R-SHR-5
		days := 0
		if v["days"] != "" {
			if days, err = strconv.Atoi(v["days"]); err != nil {
				return true, errors.New("--days is a number")
			}
		}
		st, err := svc.StatisticsAsOperator(ctx, days)
		if err != nil {
			return true, err
		}
		writeStats(stdout, st)
		return true, nil
	case "announce": // R-OPS-2
		body := v["body"]
		if v["file"] != "" {
			b, err := os.ReadFile(v["file"])
			if err != nil {
				return true, err
			}
			body = string(b)
		}
		an, err := svc.AnnounceAsOperator(ctx, "general", v["title"], body)
		if err != nil {
			return true, err
		}
		fmt.Fprintf(stdout, "announced %s to everyone\n", an.ID)
		return true, nil
	case "cease": // R-OPS-3
		if v["notice-days"] == "" {
			return true, errors.New("cease needs --notice-days N (0: erase everything now)")
		}
		n, err := strconv.Atoi(v["notice-days"])
		if err != nil {
			return true, errors.New("--notice-days is a number")
		}
		c, err := svc.Cease(ctx, n, v["message"])
		if err != nil {
			return true, err
		}
		fmt.Fprintf(stdout, "ceasing since %s: registrations and collection stopped, everyone told\n", c.Since.Format(time.RFC3339))
		if !c.ErasedAt.IsZero() {
			fmt.Fprintf(stdout, "all personal information erased at %s; kept:\n", c.ErasedAt.Format(time.RFC3339))
			keep := make([]string, 0, len(service.ErasureKept))
			for t := range service.ErasureKept {
				keep = append(keep, t)
			}
			sort.Strings(keep)
			for _, t := range keep {
				fmt.Fprintf(stdout, "  %s: %s\n", t, service.ErasureKept[t])
			}
		} else {
			fmt.Fprintf(stdout, "all personal information will be erased at %s (by the running server)\n", c.EraseAt.Format(time.RFC3339))
		}
		return true, nil
	}
	return true, errors.New(opsUsage)
}

func writeStats(w io.Writer, st service.Statistics) {
	cell := func(c service.StatCell) string {
		if c.Suppressed {
			return "<" + strconv.Itoa(st.K)
		}
		return strconv.FormatInt(c.Count, 10)
	}
	fmt.Fprintf(w, "de-identified statistics, last %d days, cells under %d suppressed\n", st.Days, st.K)
	for _, s := range []struct {
		title string
		cells []service.StatCell
	}{{"active users per day", st.ActiveUsersPerDay}, {"messages per kind", st.MessagesPerKind}, {"posts per day", st.PostsPerDay}} {
		fmt.Fprintf(w, "\n%s\n", s.title)
		for _, c := range s.cells {
			fmt.Fprintf(w, "  %s\t%s\n", c.Key, cell(c))
		}
	}
}
