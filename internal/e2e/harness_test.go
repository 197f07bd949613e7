package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tkesj/tkesj/internal/app"
	"github.com/tkesj/tkesj/internal/store/storetest"
	"github.com/tkesj/tkesj/internal/testkit"
)

// The SMS gateway and the log sink are testkit's, shared with internal/attack.
type (
	smsInbox   = testkit.SMSInbox
	syncBuffer = testkit.LogBuffer
)

// server is one running tkesj.
type server struct {
	URL  string
	Data string
	Log  *syncBuffer
	SMS  *smsInbox
	cfg  app.Config
	stop func()
}

// backend names a store for a test: "sqlite" or "postgres".
type backend string

// forEachBackend runs fn once on SQLite and once on PostgreSQL (when
// TKESJ_TEST_POSTGRES_URL is set; in CI it must be).
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "sqlite") })
	t.Run("postgres", func(t *testing.T) {
		storetest.PostgresURL(t)
		fn(t, "postgres")
	})
}

var cheapHash = testkit.CheapHash

// startServer runs a server on b with a fresh data directory (and, on
// PostgreSQL, fresh schemas), stopped when the test ends.
func startServer(t testing.TB, b backend, tweak ...func(*app.Config)) *server {
	t.Helper()
	inbox := &smsInbox{}
	gw := httptest.NewServer(inbox)
	t.Cleanup(gw.Close)
	cfg := app.Config{Addr: "127.0.0.1:0", Data: t.TempDir(), SMSWebhook: gw.URL, PhoneRegion: "CN", LogLevel: "debug"}
	cfg.Service.PhoneRegion = "CN"
	cfg.Service.PasswordParams = &cheapHash
	if b == "postgres" {
		cfg.DB, cfg.KeySchema = postgresSchemas(t)
	}
	for _, f := range tweak {
		f(&cfg)
	}
	return runServer(t, cfg, inbox)
}

func runServer(t testing.TB, cfg app.Config, inbox *smsInbox) *server {
	t.Helper()
	log := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, cfg, app.NewLogger(log, cfg.LogLevel), func(addr string) { ready <- addr })
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server did not start: %v\n%s", err, log.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start within 30s")
	}
	s := &server{URL: "http://" + addr, Data: cfg.Data, Log: log, SMS: inbox, cfg: cfg}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server stopped with %v", err)
			}
		})
	}
	t.Cleanup(s.stop)
	return s
}

// restart stops s and starts a new server on the same data and database.
func (s *server) restart(t testing.TB) *server {
	t.Helper()
	s.stop()
	return runServer(t, s.cfg, s.SMS)
}

// backendFlags are the serve flags that put a child process on backend b:
// none for SQLite (its data directory), fresh schemas for PostgreSQL.
func backendFlags(t testing.TB, b backend) []string {
	if b != "postgres" {
		return nil
	}
	url, keySchema := postgresSchemas(t)
	return []string{"--db", url, "--key-schema", keySchema}
}

// postgresSchemas returns a URL whose search_path is a new schema, and a
// second new schema for the key store; both are dropped when the test ends.
func postgresSchemas(t testing.TB) (string, string) {
	base := storetest.PostgresURL(t)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	var names []string
	for i := 0; i < 2; i++ {
		b := make([]byte, 6)
		rand.Read(b)
		name := "e2e_" + hex.EncodeToString(b)
		if _, err := admin.Exec(`CREATE SCHEMA ` + name); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		names = append(names, name)
	}
	t.Cleanup(func() {
		for _, n := range names {
			admin.Exec(`DROP SCHEMA ` + n + ` CASCADE`)
		}
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", names[0])
	u.RawQuery = q.Encode()
	return u.String(), names[1]
}

// response is what a call answered.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// str returns a string field of the body.
func (r response) str(t testing.TB, key string) string {
	t.Helper()
	v, _ := r.JSON(t)[key].(string)
	return v
}

// do sends a request; body may be nil, a string (sent raw) or anything JSON.
func (s *server) do(t testing.TB, token, method, path string, body any) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
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
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// want fails the test unless r has status (and, for problems, code).
func want(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body: %s", r.Status, status, r.Body)
	}
	if code != "" {
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("Content-Type = %q, want application/problem+json", ct)
		}
		if got := r.str(t, "code"); got != code {
			t.Fatalf("code = %q, want %q; body: %s", got, code, r.Body)
		}
	}
}

var phoneSeq atomic.Int64

// newPhone returns a valid, unused CN mobile number in E.164.
func newPhone() string {
	return fmt.Sprintf("+86138%08d", 10_000_000+phoneSeq.Add(1)*7919%90_000_000)
}

var nameSeq atomic.Int64

func newUsername(prefix string) string {
	return fmt.Sprintf("%s_%04d", prefix, nameSeq.Add(1))
}

// code asks for a code and returns what the gateway received.
func (s *server) code(t testing.TB, phone, purpose string) string {
	t.Helper()
	want(t, s.do(t, "", "POST", "/api/v1/verification-codes", map[string]string{"phone": phone, "purpose": purpose}), 202, "")
	return s.awaitCode(t, phone, purpose)
}

// awaitCode waits for a code to reach the gateway. Codes other than register
// ones are sent just after the answer (so that its timing does not reveal a
// registered phone).
func (s *server) awaitCode(t testing.TB, phone, purpose string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c := s.SMS.Last(phone, purpose); c != "" {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s code reached the gateway for the phone", purpose)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// person is a registered user with one signed-in device.
type person struct {
	ID, Phone, Username, Password, Token, Device string
}

const goodPassword = "Pa55-word-ok"

// register makes a new person through the public API.
func (s *server) register(t testing.TB, nick string) person {
	t.Helper()
	p := person{Phone: newPhone(), Username: newUsername("user"), Password: goodPassword, Device: fmt.Sprintf("dev-%d", nameSeq.Add(1))}
	r := s.do(t, "", "POST", "/api/v1/accounts", map[string]any{
		"phone": p.Phone, "code": s.code(t, p.Phone, "register"), "username": p.Username, "password": p.Password,
		"nickname": nick, "gender": "other", "policy_version": "1", "device": map[string]string{"id": p.Device},
	})
	want(t, r, 201, "")
	m := r.JSON(t)
	p.Token = m["token"].(string)
	p.ID = m["user"].(map[string]any)["id"].(string)
	return p
}

// login signs p in on another device and returns its token.
func (s *server) login(t testing.TB, p person, device string) string {
	t.Helper()
	r := s.do(t, "", "POST", "/api/v1/sessions", map[string]any{"login": p.Username, "password": p.Password, "device": map[string]string{"id": device}})
	want(t, r, 201, "")
	return r.str(t, "token")
}

// befriend makes a and b friends through requests, as people would.
func (s *server) befriend(t testing.TB, a, b person) {
	t.Helper()
	r := s.do(t, a.Token, "POST", "/api/v1/friend-requests", map[string]any{"to": b.ID, "greeting": "hi, it's me"})
	want(t, r, 201, "")
	if r.str(t, "status") == "accepted" {
		return
	}
	want(t, s.do(t, b.Token, "POST", "/api/v1/friend-requests/"+r.str(t, "id")+"/accept", nil), 200, "")
}

// direct opens the direct chat between a and b and returns its id.
func (s *server) direct(t testing.TB, a, b person) string {
	t.Helper()
	r := s.do(t, a.Token, "POST", "/api/v1/conversations", map[string]any{"kind": "direct", "members": []string{b.ID}})
	want(t, r, 201, "")
	return r.str(t, "id")
}

var clientSeq atomic.Int64

// send sends a text and returns the stored message.
func (s *server) send(t testing.TB, p person, conv, text string) map[string]any {
	t.Helper()
	r := s.do(t, p.Token, "POST", "/api/v1/conversations/"+conv+"/messages",
		map[string]any{"client_id": fmt.Sprintf("c-%d", clientSeq.Add(1)), "kind": "text", "text": text})
	want(t, r, 201, "")
	return r.JSON(t)
}

// messages lists a conversation after seq.
func (s *server) messages(t testing.TB, p person, conv string, after int) []map[string]any {
	t.Helper()
	r := s.do(t, p.Token, "GET", fmt.Sprintf("/api/v1/conversations/%s/messages?after_seq=%d&limit=100", conv, after), nil)
	want(t, r, 200, "")
	var out []map[string]any
	for _, m := range r.JSON(t)["messages"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}
