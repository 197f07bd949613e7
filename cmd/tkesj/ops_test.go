package main

import (
	"strings"
	"testing"

	"github.com/tkesj/tkesj/internal/service"
)

// R-SHR-5: `tkesj admin stats` prints suppressed cells as "<k", never their count.
func TestWriteStatsSuppresses(t *testing.T) {
	var b strings.Builder
	writeStats(&b, service.Statistics{Days: 7, K: 10,
		ActiveUsersPerDay: []service.StatCell{{Key: "2026-11-27", Count: 42}, {Key: "2026-11-28", Suppressed: true}},
		MessagesPerKind:   []service.StatCell{{Key: "text", Count: 11}}})
	out := b.String()
	for _, want := range []string{"2026-11-27\t42", "2026-11-28\t<10", "text\t11", "cells under 10 suppressed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
