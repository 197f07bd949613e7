// Command tkesj is the tkesj messenger: `tkesj serve` runs the API, the
// WebSocket hub and the web client; other subcommands administer it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tkesj:", err)
		os.Exit(1)
	}
}
