// Package sms delivers one-time codes (R-ACC-1): to the server log for
// development, or by POSTing {"phone","code","purpose"} to an SMS gateway's
// webhook. Only cmd/tkesj wires it; the service sees tkesj.CodeSender.
package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Log writes codes to the server log. It is for development only: it is the
// one place a code reaches a log, and the phone number is masked there.
type Log struct {
	Logger *slog.Logger
	// Console, when set, also gets each code as one plain line a person
	// reads at a glance in a terminal, instead of hunting through JSON
	// request logs: "tkesj: one-time code 123456 for +*******8000 (register)".
	Console io.Writer
}

// SendCode logs the code with the phone masked to its last four digits.
func (l Log) SendCode(ctx context.Context, phone, code, purpose string) error {
	l.Logger.LogAttrs(ctx, slog.LevelInfo, "one-time code (development sender; set --sms-webhook in production)",
		slog.String("phone", Mask(phone)), slog.String("code", code), slog.String("purpose", purpose))
	if l.Console != nil {
		fmt.Fprintf(l.Console, "tkesj: one-time code %s for %s (%s) — development sender; set --sms-webhook in production\n", code, Mask(phone), purpose)
	}
	return nil
}

// Mask keeps the country prefix's plus and the last four digits: +*******8000.
func Mask(phone string) string {
	if len(phone) <= 4 {
		return "****"
	}
	b := []byte(phone)
	for i := 1; i < len(b)-4; i++ {
		b[i] = '*'
	}
	return string(b)
}

// Webhook posts codes to an SMS gateway.
type Webhook struct {
	URL    string
	Client *http.Client // nil: a client with a 5 s timeout
}

// SendCode POSTs {"phone","code","purpose"} and expects a 2xx answer.
func (w Webhook) SendCode(ctx context.Context, phone, code, purpose string) error {
	body, _ := json.Marshal(map[string]string{"phone": phone, "code": code, "purpose": purpose})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("sms webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	c := w.Client
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Second}
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("sms webhook: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sms webhook answered %d", resp.StatusCode)
	}
	return nil
}
