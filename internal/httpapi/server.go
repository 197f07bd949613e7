// Package httpapi is tkesj's HTTP API: NewServer returns the handler that
// serves /api/v1 (API.md), /healthz and the embedded web client. Handlers only
// decode, call the service and encode; every rule lives in the service.
// Only cmd/tkesj imports this package.
package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/calls"
	"github.com/tkesj/tkesj/internal/service"
)

// Options configure the server.
type Options struct {
	// Web is the built web client; nil serves none.
	Web fs.FS
	// VAPIDPublicKey is the Web Push application server key clients subscribe with.
	VAPIDPublicKey string
	// Realtime serves /api/v1/ws for an authenticated person.
	Realtime interface {
		ServeWS(w http.ResponseWriter, r *http.Request, userID string, deviceIdx []byte)
	}
	// Calls serves /api/v1/calls; nil answers 503 calls_unavailable.
	Calls *calls.Service
}

type server struct {
	svc  *service.Service
	log  *slog.Logger
	opts Options
	mux  *http.ServeMux
}

// NewServer returns the whole HTTP surface of tkesj.
func NewServer(svc *service.Service, log *slog.Logger, opts Options) http.Handler {
	s := &server{svc: svc, log: log, opts: opts, mux: http.NewServeMux()}
	allowed := map[string][]string{}
	for _, rt := range s.routes() {
		h := rt.handler
		if rt.auth {
			h = s.authenticated(rt.method+" "+rt.path, h)
		}
		s.mux.Handle(rt.method+" "+rt.path, h)
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	// A known path with another method gets a problem document, not the
	// mux's plain-text 405. Registered per method, so that a fixed path such
	// as /moments/timeline never clashes with a pattern such as /moments/{id}.
	for path, methods := range allowed {
		allow := strings.Join(methods, ", ")
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if slices.Contains(methods, m) {
				continue
			}
			s.mux.Handle(m+" "+path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Allow", allow)
				writeError(w, r, s.log, errorf(tkesj.EMethodNotAllowed, "method_not_allowed", "%s is not allowed here; use %s", r.Method, allow))
			}))
		}
	}
	s.mux.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, errorf(tkesj.ENotFound, "not_found", "no such API endpoint"))
	}))
	if opts.Web != nil {
		s.mux.Handle("/", s.handleWeb(opts.Web))
	}
	return s.middleware(s.mux)
}

type ctxKey int

const (
	authKey ctxKey = iota
	requestIDKey
)

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// middleware adds a request id, security headers, panic recovery and an access
// log line. The log names the route pattern, never the URL: query strings may
// hold phone numbers.
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		b := make([]byte, 8)
		rand.Read(b)
		rid := hex.EncodeToString(b)
		ctx := context.WithValue(r.Context(), requestIDKey, rid)
		r = r.WithContext(ctx)
		h := w.Header()
		h.Set("X-Request-Id", rid)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), geolocation=(self)")
		if strings.HasPrefix(r.URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.ErrorContext(ctx, "panic", "request_id", rid, "route", r.Pattern, "panic", slog.AnyValue(p).String())
				if sw.status == 0 {
					writeError(sw, r, s.log, tkesj.Internal(nil))
				}
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("request_id", rid), slog.String("method", r.Method), slog.String("route", r.Pattern),
				slog.Int("status", sw.status), slog.Float64("ms", float64(time.Since(start).Microseconds())/1000))
		}()
		next.ServeHTTP(sw, r)
	})
}

// policyExempt lists what a person may still do while a major policy update
// waits for their acceptance (R-POL-1): read and accept the policy, see who
// they are, export their data, destroy the account, sign out, and keep the
// socket that tells them about it.
var policyExempt = map[string]bool{
	"POST /api/v1/policy/accept":           true,
	"GET /api/v1/me":                       true,
	"DELETE /api/v1/me":                    true,
	"DELETE /api/v1/sessions/current":      true,
	"POST /api/v1/me/exports":              true,
	"GET /api/v1/me/exports":               true,
	"GET /api/v1/me/exports/{id}":          true,
	"GET /api/v1/me/exports/{id}/download": true,
	"GET /api/v1/ws":                       true,
}

// authenticated requires a valid bearer token (or ?token= on the WebSocket).
func (s *server) authenticated(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			token = "" // CutPrefix hands back the whole header when the scheme is not Bearer
			if r.URL.Path == "/api/v1/ws" {
				token = r.URL.Query().Get("token")
			}
		}
		a, err := s.svc.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if a.PolicyPending && !policyExempt[route] {
			writeError(w, r, s.log, errorf(tkesj.EConflict, "policy_acceptance_required",
				"the privacy policy has changed; read it at /api/v1/policy and accept it (POST /api/v1/policy/accept) to continue, or export your data or destroy your account"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey, a)))
	})
}

func authOf(r *http.Request) service.Auth { return r.Context().Value(authKey).(service.Auth) }

// clientIP is the peer's address. Behind a reverse proxy this is the proxy;
// trusting X-Forwarded-For needs a configured proxy list (not yet offered).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// handleWeb serves the web client: files as they are, and index.html for any
// other path so the client's own routes work on reload. Asset names are
// stable across builds, so assets are revalidated (ETag from their content)
// rather than cached blind; a missing asset is a 404, not the index page.
func (s *server) handleWeb(dist fs.FS) http.Handler {
	const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; " +
		"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
	etags := map[string]string{}
	fs.WalkDir(dist, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := fs.ReadFile(dist, p); err == nil {
				sum := sha256.Sum256(b)
				etags[p] = `"` + hex.EncodeToString(sum[:8]) + `"`
			}
		}
		return nil
	})
	files := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, r, s.log, errorf(tkesj.EMethodNotAllowed, "method_not_allowed", "only GET and HEAD are allowed here"))
			return
		}
		w.Header().Set("Content-Security-Policy", csp)
		p := strings.TrimPrefix(r.URL.Path, "/")
		if etag, ok := etags[p]; ok && p != "index.html" {
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("ETag", etag)
			files.ServeHTTP(w, r) // answers If-None-Match with 304
			return
		}
		if strings.HasPrefix(p, "assets/") {
			http.NotFound(w, r)
			return
		}
		index, err := fs.ReadFile(dist, "index.html")
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(index)
	})
}
