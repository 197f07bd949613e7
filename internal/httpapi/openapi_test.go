package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/tkesj/tkesj/internal/validate"
)

// The OpenAPI document and the route table say the same thing: every route is
// documented with its method, and every documented operation routes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	routed := map[string]bool{}
	for _, rt := range (&server{}).routes() {
		routed[rt.pattern] = true
	}
	var missing, extra []string
	for r := range routed {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for d := range documented {
		if !routed[d] {
			extra = append(extra, d)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from openapi.json: %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("openapi.json documents operations that do not route: %v", extra)
	}
}

// The rules people read in the document are the rules the code enforces.
func TestOpenAPIStatesTheRules(t *testing.T) {
	for _, rule := range []string{validate.UsernameRule, validate.PasswordRule} {
		if !strings.Contains(string(openAPI), rule) {
			t.Errorf("openapi.json does not state the rule %q", rule)
		}
	}
}

// The web client's assets revalidate by ETag, and a missing asset is a 404.
func TestWebAssets(t *testing.T) {
	dist := fstest.MapFS{"index.html": {Data: []byte("<html>app</html>")}, "assets/app.js": {Data: []byte("console.log(1)")}}
	h := (&server{log: slog.New(slog.DiscardHandler)}).handleWeb(dist)
	get := func(path, inm string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	js := get("/assets/app.js", "")
	if js.Code != 200 || js.Header().Get("ETag") == "" || js.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("asset = %d %v", js.Code, js.Header())
	}
	if again := get("/assets/app.js", js.Header().Get("ETag")); again.Code != 304 {
		t.Errorf("revalidation = %d, want 304", again.Code)
	}
	if missing := get("/assets/gone.js", ""); missing.Code != 404 {
		t.Errorf("missing asset = %d, want 404", missing.Code)
	}
	if page := get("/me/privacy", ""); page.Code != 200 || !strings.Contains(page.Body.String(), "app") || page.Header().Get("Content-Security-Policy") == "" {
		t.Errorf("client route = %d %q", page.Code, page.Body.String())
	}
}
