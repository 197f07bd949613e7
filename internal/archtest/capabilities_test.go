package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// capabilities are the packages of tkesj's logic, in layer order: each may
// import only the kernel and the capabilities listed before it (README,
// Architecture). internal/service composes them all.
var capabilities = []struct {
	path string
	may  []string // capabilities it may import
}{
	{"/internal/kernel", nil},
	{"/internal/accounts", []string{"/internal/kernel"}},
	{"/internal/social", []string{"/internal/kernel", "/internal/accounts"}},
	{"/internal/messaging", []string{"/internal/kernel", "/internal/accounts", "/internal/social"}},
	{"/internal/media", []string{"/internal/kernel", "/internal/accounts", "/internal/social"}},
	{"/internal/calls", []string{"/internal/kernel", "/internal/accounts", "/internal/social", "/internal/messaging"}},
	{"/internal/compliance", []string{"/internal/kernel", "/internal/accounts", "/internal/social", "/internal/messaging", "/internal/media"}},
}

// notForCapabilities are the packages a capability never imports: adapters
// (wired by internal/app only; redaction and other pure rules live in
// internal/privacy, not in the adapter that happens to show a number) and the
// layers above them. keyring is not among them: sealing with each person's
// key is the kernel's job.
var notForCapabilities = []string{"/internal/store/sqlite", "/internal/store/postgres", "/internal/bus/inmem", "/internal/bus/natsbus",
	"/internal/media/disk", "/internal/media/s3", "/internal/sms", "/internal/push/webpush", "/internal/realtime",
	"/internal/httpapi", "/internal/app", "/internal/bench", "/internal/e2e", "/internal/service"}

// TestCapabilityLayers: capability packages import no adapter and only the
// capabilities beneath them; only internal/service imports compliance.
func TestCapabilityLayers(t *testing.T) {
	pkgs := listPackages(t)
	found := 0
	for _, p := range pkgs {
		for _, c := range capabilities {
			if p.ImportPath != mod+c.path {
				continue
			}
			found++
			for _, imp := range p.Imports {
				if !strings.HasPrefix(imp, mod+"/") {
					continue
				}
				rel := strings.TrimPrefix(imp, mod)
				for _, bad := range notForCapabilities {
					if rel == bad || strings.HasPrefix(rel, bad+"/") {
						t.Errorf("capability %s imports %s; capabilities never import adapters or the layers above them", c.path, rel)
					}
				}
				for _, other := range capabilities {
					if rel == other.path && !slices.Contains(c.may, rel) {
						t.Errorf("capability %s imports %s, which is not beneath it (kernel, accounts, social, messaging/media, compliance)", c.path, rel)
					}
				}
			}
		}
		for _, imp := range p.Imports {
			if imp == mod+"/internal/compliance" && p.ImportPath != mod+"/internal/service" {
				t.Errorf("%s imports internal/compliance; only internal/service composes it", p.ImportPath)
			}
		}
	}
	if found != len(capabilities) {
		t.Fatalf("found %d of the %d capability packages; update the list", found, len(capabilities))
	}
}

// TestStaffReadsGoThroughCompliance: compliance is the only package that
// reads other people's data for staff. How it is checked: every route under
// /api/v1/admin (internal/httpapi's route table) calls the service only
// through methods declared in internal/compliance, where each staff method
// checks the role's permission and writes the audit log first (staff.go);
// and no other capability declares a Staff* method.
func TestStaffReadsGoThroughCompliance(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	parseDir := func(dir string) []*ast.File {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			t.Fatal(err)
		}
		var files []*ast.File
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(root, dir, e.Name()), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		return files
	}
	methods := func(files []*ast.File) map[string]bool {
		out := map[string]bool{}
		for _, f := range files {
			for _, d := range f.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv != nil {
					out[fn.Name.Name] = true
				}
			}
		}
		return out
	}
	compliance := methods(parseDir("internal/compliance"))
	for _, c := range capabilities {
		if c.path == "/internal/compliance" {
			continue
		}
		for m := range methods(parseDir(strings.TrimPrefix(c.path, "/"))) {
			if strings.HasPrefix(m, "Staff") {
				t.Errorf("%s declares %s; staff reads belong in internal/compliance", c.path, m)
			}
		}
	}

	// The admin routes' handlers, by name.
	httpapi := parseDir("internal/httpapi")
	admin := map[string]bool{}
	for _, f := range httpapi {
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			isAdmin, handler := false, ""
			for _, e := range lit.Elts {
				if kv, ok := e.(*ast.KeyValueExpr); ok {
					e = kv.Value
				}
				switch v := e.(type) {
				case *ast.BasicLit:
					// "/api/v1/admin/..." or "GET /api/v1/admin/..." (a method pattern)
					path := strings.Trim(v.Value, `"`)
					if i := strings.IndexByte(path, ' '); i >= 0 {
						path = path[i+1:]
					}
					if strings.HasPrefix(path, "/api/v1/admin") {
						isAdmin = true
					}
				case *ast.CallExpr:
					if sel, ok := v.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "handle") {
						handler = sel.Sel.Name
					}
				}
			}
			if isAdmin && handler != "" {
				admin[handler] = true
			}
			return true
		})
	}
	if len(admin) < 10 {
		t.Fatalf("found %d admin route handlers in internal/httpapi; the route table changed shape: update this test", len(admin))
	}
	calls := 0
	for _, f := range httpapi {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || !admin[fn.Name.Name] {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				sel, ok := n.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.SelectorExpr); ok && x.Sel.Name == "svc" {
					calls++
					if !compliance[sel.Sel.Name] {
						t.Errorf("admin handler %s calls the service's %s, which is not declared in internal/compliance: staff reads of people's data go through compliance (permission check, audit log)",
							fn.Name.Name, sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
	if calls < 10 {
		t.Fatalf("the admin handlers call the service %d times through s.svc; the handlers changed shape: update this test", calls)
	}
}
