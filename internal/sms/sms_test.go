package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// R-ACC-1: codes go through a pluggable sender; the webhook gets the API.md shape.
func TestWebhookPostsTheCode(t *testing.T) {
	var got map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook got %s with %q", r.Method, r.Header.Get("Content-Type"))
		}
		json.NewDecoder(r.Body).Decode(&got)
	}))
	defer srv.Close()
	if err := (Webhook{URL: srv.URL}).SendCode(context.Background(), "+8613800138000", "123456", "register"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"phone": "+8613800138000", "code": "123456", "purpose": "register"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("webhook body[%s] = %q, want %q", k, got[k], v)
		}
	}
}

func TestWebhookReportsAGatewayFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }))
	defer srv.Close()
	if err := (Webhook{URL: srv.URL}).SendCode(context.Background(), "+8613800138000", "1", "login"); err == nil {
		t.Error("SendCode to a failing gateway = nil, want an error")
	}
}

func TestLogMasksThePhone(t *testing.T) {
	var buf bytes.Buffer
	Log{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}.SendCode(context.Background(), "+8613800138000", "654321", "login")
	if strings.Contains(buf.String(), "13800138000") || !strings.Contains(buf.String(), "8000") || !strings.Contains(buf.String(), "654321") {
		t.Errorf("log = %s; want the code and a masked phone", buf.String())
	}
}

// In development the code is one line a person reads in the terminal, not a
// field of a JSON log record; the phone stays masked there too.
func TestLogPrintsOneReadableLine(t *testing.T) {
	var logs, console bytes.Buffer
	l := Log{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Console: &console}
	if err := l.SendCode(context.Background(), "+8613800138000", "654321", "register"); err != nil {
		t.Fatal(err)
	}
	want := "tkesj: one-time code 654321 for +*********8000 (register) — development sender; set --sms-webhook in production\n"
	if console.String() != want {
		t.Errorf("console = %q, want %q", console.String(), want)
	}
}
