package httpapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tkesj/tkesj"
)

type sample struct {
	Name   string            `json:"name"`
	Count  int               `json:"count"`
	On     *bool             `json:"on"`
	Device map[string]string `json:"device"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		kind       tkesj.ErrorKind
		code       string
	}{
		{"a good object decodes", `{"name":"a","count":2}`, "", ""},
		{"white space after the object is fine", "{\"name\":\"a\"}\n\t ", "", ""},
		{"an empty body is malformed", ``, tkesj.EMalformed, "malformed_json"},
		{"broken JSON is malformed", `{"name":`, tkesj.EMalformed, "malformed_json"},
		{"a second value is malformed", `{"name":"a"} {"name":"b"}`, tkesj.EMalformed, "malformed_json"},
		{"trailing garbage is malformed", `{"name":"a"}xyz`, tkesj.EMalformed, "malformed_json"},
		{"an array is malformed", `[]`, tkesj.EMalformed, "malformed_json"},
		{"a string is malformed", `"hi"`, tkesj.EMalformed, "malformed_json"},
		{"a wrong type names the field", `{"count":"two"}`, tkesj.EInvalid, "invalid_field"},
		{"an unknown field is refused", `{"nmae":"a"}`, tkesj.EInvalid, "unknown_field"},
		{"a body over the limit is too large", `{"name":"` + strings.Repeat("a", maxJSONBody) + `"}`, tkesj.ETooLarge, "body_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			var v sample
			err := decode(httptest.NewRecorder(), r, &v)
			if tc.kind == "" {
				if err != nil {
					t.Fatalf("decode(%.30q) = %v, want nil", tc.body, err)
				}
				return
			}
			var e *tkesj.Error
			if !errors.As(err, &e) || e.Kind != tc.kind || e.Code != tc.code {
				t.Fatalf("decode(%.30q) = %v, want %s/%s", tc.body, err, tc.kind, tc.code)
			}
			if s := statusOf(e.Kind); s < 400 || s >= 500 {
				t.Errorf("decode error maps to status %d, want 4xx", s)
			}
		})
	}
}

// FuzzDecode: whatever the body, decode never panics and every failure is a
// client error with a code.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"x","count":1,"on":true,"device":{"id":"a"}}`, `{"count":1e400}`, `{"name":"\ud800"}`, `[`, "\x00", `{"device":{"a":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/", strings.NewReader(string(body)))
		var v sample
		err := decode(httptest.NewRecorder(), r, &v)
		if err == nil {
			return
		}
		var e *tkesj.Error
		if !errors.As(err, &e) || e.Code == "" {
			t.Fatalf("decode(%q) = %v, want a *tkesj.Error with a code", body, err)
		}
		if s := statusOf(e.Kind); s < 400 || s >= 500 || s == http.StatusUnauthorized {
			t.Fatalf("decode(%q) maps to %d", body, s)
		}
	})
}
