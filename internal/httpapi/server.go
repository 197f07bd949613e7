// Package httpapi is tkesj's HTTP API: NewServer returns the handler that
// serves /api/v1 (API.md), /healthz and the embedded web client. Handlers only
// decode, call the service and encode; every rule lives in the service.
// Only cmd/tkesj imports this package.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/realtime"
	"github.com/tkesj/tkesj/internal/service"
)

// Options configure the server.
type Options struct {
	// Web is the built web client; nil serves none.
	Web fs.FS
	// VAPIDPublicKey is the Web Push application server key clients subscribe with.
	VAPIDPublicKey string
	// Realtime serves /api/v1/ws for an authenticated person; the request
	// frames of wsrequests.go are answered through Peer.Requests.
	Realtime interface {
		ServeWS(w http.ResponseWriter, r *http.Request, p realtime.Peer)
	}
	// Observe, when set, hears of every request (metrics).
	Observe Observer
	// BodyIdleTimeout is how long reading a request body may wait for the
	// next byte, and BodyMinRate (bytes a second) how fast a body must arrive
	// on average after that first wait; a body that falls behind is cut off
	// (R-SEC-5). Defaults 30 s and 1 KiB/s.
	BodyIdleTimeout time.Duration
	BodyMinRate     int64
}

// Defaults of Options.
const (
	DefaultBodyIdleTimeout = 30 * time.Second
	DefaultBodyMinRate     = 1 << 10
)

type server struct {
	svc  *service.Service
	log  *slog.Logger
	opts Options
	mux  *http.ServeMux
	// frameRoutes are the gated handlers of the routes that request frames
	// run (wsrequests.go), by pattern.
	frameRoutes map[string]http.Handler
}

// NewServer returns the whole HTTP surface of tkesj. Every route's gates come
// from its row in routes(); the middleware around the mux gives every answer,
// refusals included, a request id and the security headers.
func NewServer(svc *service.Service, log *slog.Logger, opts Options) http.Handler {
	if opts.BodyIdleTimeout <= 0 {
		opts.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if opts.BodyMinRate <= 0 {
		opts.BodyMinRate = DefaultBodyMinRate
	}
	s := &server{svc: svc, log: log, opts: opts, mux: http.NewServeMux(), frameRoutes: map[string]http.Handler{}}
	allowed := map[string][]string{}
	var paths []string
	framed := map[string]bool{}
	for _, rf := range requestFrames {
		framed[rf.route] = true
	}
	for _, rt := range s.routes() {
		h := s.gated(rt)
		s.mux.Handle(rt.pattern, h)
		if framed[rt.pattern] {
			s.frameRoutes[rt.pattern] = h
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		if _, ok := allowed[path]; !ok {
			paths = append(paths, path)
		}
		allowed[path] = append(allowed[path], method)
	}
	// A known path with another method gets a problem document, not the
	// mux's plain-text 405. Registered per method, so that a fixed path such
	// as /moments/timeline never clashes with a pattern such as /moments/{id}.
	for _, path := range paths {
		methods := allowed[path]
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

// gated wraps a route's handler in the gates its row declares, outermost
// first: the metric label, cessation (before authentication, so that a
// refused write says why whoever sends it), authentication, the policy gate.
func (s *server) gated(rt route) http.Handler {
	h := rt.handler
	if rt.auth != public {
		h = s.authenticated(rt.auth == bearerOrQuery, rt.policy == policyGated, h)
	}
	if rt.cease == notWhileCeasing {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if s.svc.Ceasing(context.WithoutCancel(r.Context())) {
				writeError(w, r, s.log, service.ErrCeasing)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	inner := h
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(requestInfoKey).(*requestInfo); ok {
			info.metric = rt.metric
		}
		inner.ServeHTTP(w, r)
	})
}

type ctxKey int

const (
	authKey ctxKey = iota
	requestIDKey
	requestInfoKey
	bodyKey
	// socketSessionKey carries, in a request frame's context, the token
	// hash of the session its socket was opened with (wsrequests.go). Only
	// this package sets it (a context value cannot come from the network);
	// authenticated checks the session again by it, as it checks a token.
	socketSessionKey
)

// requestInfo is what the route learns of a request for the middleware around
// the mux, which runs before the route is known: the route's metric label.
type requestInfo struct{ metric string }

// Observer hears of every request: its route's metric label ("other" for
// what matches no route: the label set stays bounded, never the URL), its
// status and its duration.
type Observer func(route string, status int, d time.Duration)

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

// middleware adds a request id, security headers, panic recovery, the
// observer's report and an access log line. It is the outermost handler, so
// every refusal of every gate carries the request id and the headers. The log
// names the route pattern, never the URL: query strings may hold phone numbers.
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		b := make([]byte, 8)
		rand.Read(b)
		rid := hex.EncodeToString(b)
		info := &requestInfo{metric: "other"}
		ctx := context.WithValue(context.WithValue(r.Context(), requestIDKey, rid), requestInfoKey, info)
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
		if r.TLS != nil {
			// Once a browser has reached us over TLS it never tries plain
			// HTTP again for two years (issue 14 item 11).
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		sw := &statusWriter{ResponseWriter: w}
		if r.Body != nil && r.Body != http.NoBody {
			tb := &timedBody{ReadCloser: r.Body, rc: http.NewResponseController(w), start: start,
				idle: s.opts.BodyIdleTimeout, rate: s.opts.BodyMinRate}
			r.Body = tb
			r = r.WithContext(context.WithValue(r.Context(), bodyKey, tb))
			defer func() {
				if !tb.late.Load() {
					tb.rc.SetReadDeadline(time.Time{}) // the next request on the connection starts afresh
				}
			}()
		}
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
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			if s.opts.Observe != nil {
				s.opts.Observe(info.metric, status, time.Since(start))
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "request",
				slog.String("request_id", rid), slog.String("method", r.Method), slog.String("route", r.Pattern),
				slog.Int("status", sw.status), slog.Float64("ms", float64(time.Since(start).Microseconds())/1000))
		}()
		next.ServeHTTP(sw, r)
	})
}

// authenticated requires a valid bearer token. When query is set (the
// WebSocket: a browser cannot set its headers) it also takes ?token=, or a
// single-use ?ticket= from POST /api/v1/ws-tickets, which keeps the token out
// of URLs. A WebSocket's request frame (wsrequests.go) is authenticated by
// the session its socket was opened with, checked again now. When policy is
// set it refuses a person whose acceptance of a major policy update is
// pending.
func (s *server) authenticated(query, policy bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := r.Context().Value(socketSessionKey).([]byte); ok {
			a, err := s.svc.AuthenticateTokenHash(r.Context(), h)
			s.admit(w, r, a, err, policy, next)
			return
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			token = "" // CutPrefix hands back the whole header when the scheme is not Bearer
			if query {
				token = r.URL.Query().Get("token")
			}
		}
		var a service.Auth
		var err error
		if ticket := r.URL.Query().Get("ticket"); token == "" && ticket != "" && query {
			a, err = s.svc.AuthenticateWSTicket(r.Context(), ticket)
		} else {
			a, err = s.svc.Authenticate(r.Context(), strings.TrimSpace(token))
		}
		s.admit(w, r, a, err, policy, next)
	})
}

// admit lets an authenticated request through to next, or refuses it: its
// authentication failed (err), or policy is set and the person's acceptance
// of a major policy update is pending.
func (s *server) admit(w http.ResponseWriter, r *http.Request, a service.Auth, err error, policy bool, next http.Handler) {
	if err != nil {
		writeError(w, r, s.log, err)
		return
	}
	if policy && a.PolicyPending {
		writeError(w, r, s.log, errPolicyPending)
		return
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), authKey, a)))
}

// timedBody cuts off a request body that arrives too slowly (issue 14 item
// 11, R-SEC-5): each read may wait at most idle for data, and the body as a
// whole must keep up with rate bytes a second after the first idle period.
// Without it, a client sending a byte now and then holds a connection, a
// goroutine and whatever the handler took (an upload slot) for ever.
type timedBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	idle  time.Duration
	rate  int64
	n     int64
	late  atomic.Bool // the body fell behind and was cut off
}

// bodyTooSlow reports whether r's body was cut off for arriving too slowly.
// (net/http then cancels the request's context too, as if the client had
// gone; it has not, and gets an answer.)
func bodyTooSlow(r *http.Request) bool {
	tb, ok := r.Context().Value(bodyKey).(*timedBody)
	return ok && tb.late.Load()
}

func (b *timedBody) Read(p []byte) (int, error) {
	now := time.Now()
	deadline := now.Add(b.idle)
	if byRate := b.start.Add(b.idle + time.Duration(b.n*int64(time.Second)/b.rate)); byRate.Before(deadline) {
		deadline = byRate
	}
	if !deadline.After(now) {
		b.late.Store(true)
		return 0, errBodyTooSlow
	}
	b.rc.SetReadDeadline(deadline) // an error means the connection can't: nothing to bound
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.late.Store(true)
		err = errBodyTooSlow
	}
	return n, err
}

// errBodyTooSlow is what reading a body that fell behind returns.
var errBodyTooSlow = &tkesj.Error{Kind: tkesj.EMalformed, Code: "body_timeout",
	Message: "the request body arrived too slowly and was cut off; retry on a better connection"}

var errPolicyPending = errorf(tkesj.EConflict, "policy_acceptance_required",
	"the privacy policy has changed; read it at /api/v1/policy and accept it (POST /api/v1/policy/accept) to continue, or export your data or destroy your account")

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
