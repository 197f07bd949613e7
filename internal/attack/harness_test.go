package attack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/testkit"
)

// server is one tkesj under attack, run in-process on 127.0.0.1.
type server struct {
	URL  string
	Addr string
	Data string
	sms  *inbox
	log  *logBuffer
}

// The SMS gateway and the log sink are testkit's, shared with internal/e2e.
type (
	inbox     = testkit.SMSInbox
	logBuffer = testkit.LogBuffer
)

var cheapHash = testkit.CheapHash

// start runs a server on SQLite in a fresh directory until the test ends.
func start(t testing.TB, tweak ...func(*app.Config)) *server {
	t.Helper()
	in := &inbox{}
	gw := httptest.NewServer(in)
	t.Cleanup(gw.Close)
	cfg := app.Config{Addr: "127.0.0.1:0", Data: t.TempDir(), SMSWebhook: gw.URL, PhoneRegion: "CN", LogLevel: "info"}
	cfg.Service.PhoneRegion = "CN"
	cfg.Service.PasswordParams = &cheapHash
	for _, f := range tweak {
		f(&cfg)
	}
	log := &logBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	go func() { done <- app.Serve(ctx, cfg, app.NewLogger(log, cfg.LogLevel), func(a string) { ready <- a }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start within 30 s")
	}
	t.Cleanup(func() { cancel(); <-done })
	return &server{URL: "http://" + addr, Addr: addr, Data: cfg.Data, sms: in, log: log}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
	Took   time.Duration
}

func (r response) json() map[string]any {
	var m map[string]any
	json.Unmarshal(r.Body, &m)
	return m
}

func (r response) str(key string) string { s, _ := r.json()[key].(string); return s }

func (r response) code() string { return r.str("code") }

var client = &http.Client{Timeout: 30 * time.Second}

// do sends a request; body may be nil, a string or []byte (raw) or JSON.
func (s *server) do(t testing.TB, token, method, path string, body any) response {
	t.Helper()
	return s.doVia(t, client, token, method, path, body)
}

// doFrom is do from the loopback address src (127.x.y.z), as a client on
// another network would be: throttles kept per network count it apart.
func (s *server) doFrom(t testing.TB, src, method, path string, body any) response {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c := &http.Client{Timeout: client.Timeout, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	return s.doVia(t, c, "", method, path, body)
}

func (s *server) doVia(t testing.TB, client *http.Client, token, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b, Took: time.Since(t0)}
}

func must(t testing.TB, r response, status int, what string) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s = %d %s, want %d", what, r.Status, r.Body, status)
	}
	return r
}

var seq atomic.Int64

func newPhone() string {
	return fmt.Sprintf("+86139%08d", 10_000_000+(seq.Add(1)*7919+int64(time.Now().UnixNano()%1000))%90_000_000)
}

type person struct {
	ID, Phone, Username, Password, Token, Nick string
}

const password = "Pa55-word-ok"

func (s *server) code(t testing.TB, phone, purpose string) string {
	t.Helper()
	must(t, s.do(t, "", "POST", "/api/v1/verification-codes", map[string]string{"phone": phone, "purpose": purpose}), 202, "ask for a "+purpose+" code")
	deadline := time.Now().Add(10 * time.Second) // sent just after the answer for most purposes
	for {
		if c := s.sms.Last(phone, purpose); c != "" {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s code reached the gateway", purpose)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (s *server) register(t testing.TB, nick string) person {
	t.Helper()
	n := seq.Add(1)
	p := person{Phone: newPhone(), Username: fmt.Sprintf("atk_%d_%d", n, time.Now().UnixNano()%100000), Password: password, Nick: nick}
	r := must(t, s.do(t, "", "POST", "/api/v1/accounts", map[string]any{
		"phone": p.Phone, "code": s.code(t, p.Phone, "register"), "username": p.Username, "password": p.Password,
		"nickname": nick, "gender": "other", "policy_version": "1", "device": map[string]string{"id": fmt.Sprintf("dev-%d", n)},
	}), 201, "register")
	m := r.json()
	p.Token = m["token"].(string)
	p.ID = m["user"].(map[string]any)["id"].(string)
	return p
}

func (s *server) befriend(t testing.TB, a, b person) {
	t.Helper()
	r := must(t, s.do(t, a.Token, "POST", "/api/v1/friend-requests", map[string]any{"to": b.ID, "greeting": "hi"}), 201, "friend request")
	if r.str("status") != "accepted" {
		must(t, s.do(t, b.Token, "POST", "/api/v1/friend-requests/"+r.str("id")+"/accept", nil), 200, "accept")
	}
}

// budget fails the test if it ran longer than d since start: every part of
// the suite has a budget (and each request a 30 s timeout), so the suite's
// time in CI stays bounded and a part that slows down is noticed. Use as
// defer budget(t, time.Now(), d).
func budget(t *testing.T, start time.Time, d time.Duration) {
	t.Helper()
	if took := time.Since(start); took > d {
		t.Errorf("this part of the attack took %v, over its budget of %v", took.Round(time.Millisecond), d)
	} else {
		t.Logf("took %v (budget %v)", took.Round(time.Millisecond), d)
	}
}
