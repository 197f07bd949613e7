// Package archtest checks the shape of the code base: which packages may
// import which (STYLE.md rules 1 and 2).
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/tkesj/tkesj/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs = append(pkgs, pkg{ImportPath: f[0], Imports: f[1:]})
	}
	return pkgs
}

const mod = "github.com/tkesj/tkesj"

func TestImportRules(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages; the test would prove nothing", len(pkgs))
	}
	// Adapters: each technology in its own package; none imports another.
	adapters := []string{"/internal/store/sqlite", "/internal/store/postgres", "/internal/keyring", "/internal/bus/", "/internal/media/disk", "/internal/media/s3", "/internal/sms", "/internal/push/webpush", "/internal/realtime"}
	isAdapter := func(p string) bool {
		for _, a := range adapters {
			if strings.Contains(p+"/", a) {
				return true
			}
		}
		return false
	}
	for _, p := range pkgs {
		for _, imp := range p.Imports {
			switch {
			case p.ImportPath == mod && strings.Contains(imp, "."):
				t.Errorf("the domain package imports %s; it may import only the standard library", imp)
			case p.ImportPath == mod+"/internal/wire" && strings.Contains(imp, "."):
				t.Errorf("the wire shapes import %s; they may import only the standard library", imp)
			case isAdapter(p.ImportPath) && isAdapter(imp) && !strings.HasPrefix(imp, p.ImportPath):
				t.Errorf("adapter %s imports adapter %s", p.ImportPath, imp)
			case strings.HasPrefix(imp, mod+"/internal/httpapi") && !strings.HasPrefix(p.ImportPath, mod+"/internal/app") && p.ImportPath != imp:
				t.Errorf("%s imports the HTTP layer; only internal/app wires it", p.ImportPath)
			case strings.HasPrefix(imp, mod+"/internal/store") && strings.Contains(p.ImportPath, "/internal/httpapi"):
				t.Errorf("%s reaches the store directly; handlers go through the service", p.ImportPath)
			}
		}
	}
}
