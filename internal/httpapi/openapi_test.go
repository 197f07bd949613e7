package httpapi

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

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
