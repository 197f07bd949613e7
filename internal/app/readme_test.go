package app

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// The README's configuration table lists every flag with its env var, so an
// operator never meets a setting the documentation does not mention.
func TestReadmeListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	for _, f := range c.specs() {
		if !bytes.Contains(readme, []byte("`--"+f.name+"`")) || !bytes.Contains(readme, []byte("`"+f.env+"`")) {
			t.Errorf("README.md does not document --%s (%s)", f.name, f.env)
		}
		if !strings.HasPrefix(f.env, "TKESJ_") {
			t.Errorf("flag --%s has env var %s, want a TKESJ_ prefix", f.name, f.env)
		}
	}
}
