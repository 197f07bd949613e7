package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/realtime"
	"github.com/tkesj/tkesj/internal/wire"
)

// requestFrame is a WebSocket client frame that runs one route of the table
// (routes.go) on the socket instead of over HTTP: the frame is the route's
// JSON body plus "type", "id" and the route's path values, and it passes
// through the route's gates (cessation, the session checked again, the
// policy gate) and handler exactly as the HTTP request would, then through
// the route's own decoding (size limit, unknown fields), validation, rate
// limits and idempotency in the service. Only the transport differs: the
// answer is a frame with the frame's id.
type requestFrame struct {
	route  string            // the pattern of the route it runs
	params map[string]string // frame field -> the route's path value
	answer string            // the type of the frame that carries a 2xx answer
	field  string            // the answer frame's field that holds the route's JSON answer
}

// requestFrames are the request frames a socket takes, by type.
var requestFrames = map[string]requestFrame{
	// Send over the WebSocket (issue 17): {"type":"send","id","conversation_id",
	// ...the body of POST /messages...} -> {"type":"sent","id","message","created"}.
	"send": {route: "POST /api/v1/conversations/{id}/messages", params: map[string]string{"conversation_id": "id"}, answer: "sent", field: "message"},
}

// maxFrameID bounds the id a request frame gives, in bytes: it is echoed.
const maxFrameID = 128

// wsRequests returns what answers a socket's request frames: the socket of
// the session whose token hash is tokenHash.
func (s *server) wsRequests(tokenHash []byte) realtime.Requests {
	return func(ctx context.Context, typ string, frame []byte) ([]byte, bool) {
		rf, ok := requestFrames[typ]
		if !ok {
			return nil, false
		}
		return s.answerFrame(ctx, tokenHash, rf, frame), true
	}
}

// answerFrame runs one request frame through its route and returns the
// answer frame; nil when the connection is gone and nobody reads it.
func (s *server) answerFrame(ctx context.Context, tokenHash []byte, rf requestFrame, frame []byte) (answer []byte) {
	start := time.Now()
	b := make([]byte, 8)
	rand.Read(b)
	rid := hex.EncodeToString(b)
	info := &requestInfo{metric: "other"}
	// The socket's context holds the upgrade request's values; the frame
	// gets its own request id and metric label, like a request of its own.
	ctx = context.WithValue(context.WithValue(context.WithValue(ctx, requestIDKey, rid), requestInfoKey, info), socketSessionKey, tokenHash)

	h, ok := s.frameRoutes[rf.route]
	if !ok {
		// TestRequestFramesRunBearerRoutes keeps this from happening.
		s.log.ErrorContext(ctx, "request frame for a route not in the table", "request_id", rid, "route", rf.route)
		return frameError(rid, "", tkesj.Internal(nil), 0)
	}
	id, r, err := rf.request(ctx, frame)
	if err != nil {
		return frameError(rid, id, err, 0)
	}
	w := &frameWriter{header: http.Header{}}
	defer func() {
		if p := recover(); p != nil {
			s.log.ErrorContext(ctx, "panic", "request_id", rid, "route", rf.route, "panic", slog.AnyValue(p).String())
			answer = frameError(rid, id, tkesj.Internal(nil), 0)
			w.status = http.StatusInternalServerError
		}
		if s.opts.Observe != nil && w.status != statusClientClosed {
			s.opts.Observe("WS "+info.metric, w.status, time.Since(start))
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", rid), slog.String("method", "WS"), slog.String("route", rf.route),
			slog.Int("status", w.status), slog.Float64("ms", float64(time.Since(start).Microseconds())/1000))
	}()
	h.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return s.frameAnswer(rid, id, rf, w)
}

// request parses a request frame into the id it gives and the HTTP request
// of its route: the path values from their fields, the rest as the body.
// An error is the client's (an invalid id, a missing or ill-typed path
// value), and comes with the id when the frame gave a usable one.
func (rf requestFrame) request(ctx context.Context, frame []byte) (id string, r *http.Request, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(frame, &fields); err != nil {
		return "", nil, decodeError(err)
	}
	if fields == nil {
		return "", nil, errorf(tkesj.EMalformed, "malformed_json", "a frame must be a JSON object")
	}
	if raw, ok := fields["id"]; !ok || json.Unmarshal(raw, &id) != nil || id == "" || len(id) > maxFrameID || !utf8.ValidString(id) {
		return "", nil, errorf(tkesj.EInvalid, "invalid_field",
			`a request frame needs an "id": a string of 1 to %d bytes, which its answer repeats`, maxFrameID)
	}
	method, path, _ := strings.Cut(rf.route, " ")
	values := map[string]string{}
	for field, name := range rf.params {
		var v string
		raw, ok := fields[field]
		if !ok {
			return id, nil, errorf(tkesj.EInvalid, "missing_field", "field %q is required", field)
		}
		if json.Unmarshal(raw, &v) != nil || v == "" {
			return id, nil, errorf(tkesj.EInvalid, "invalid_field", "field %q must be a non-empty string", field)
		}
		values[name] = v
		path = strings.Replace(path, "{"+name+"}", url.PathEscape(v), 1)
		delete(fields, field)
	}
	delete(fields, "type")
	delete(fields, "id")
	// What is left is the route's body, decoded by the route itself: an
	// unknown or ill-typed field is refused there, as over HTTP.
	body, err := json.Marshal(fields)
	if err != nil {
		return id, nil, errorf(tkesj.EMalformed, "malformed_json", "the frame is not valid JSON")
	}
	r, err = http.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	if err != nil {
		return id, nil, errorf(tkesj.EInvalid, "invalid_field", "the frame's path values do not make a request")
	}
	r.Header.Set("Content-Type", "application/json")
	r.Pattern = rf.route
	for name, v := range values {
		r.SetPathValue(name, v)
	}
	return id, r, nil
}

// frameAnswer turns what the route wrote into the answer frame.
func (s *server) frameAnswer(rid, id string, rf requestFrame, w *frameWriter) []byte {
	switch {
	case w.status == statusClientClosed:
		return nil // the socket's context ended: it is closing
	case w.status >= 200 && w.status < 300:
		var out bytes.Buffer
		out.WriteString(`{"type":`)
		writeString(&out, rf.answer)
		out.WriteString(`,"id":`)
		writeString(&out, id)
		out.WriteString(`,`)
		writeString(&out, rf.field)
		out.WriteString(`:`)
		out.Write(bytes.TrimRight(w.body.Bytes(), "\n"))
		out.WriteString(`,"created":`)
		out.WriteString(strconv.FormatBool(w.status == http.StatusCreated))
		out.WriteString(`}`)
		return out.Bytes()
	}
	var p wire.Problem
	if err := json.Unmarshal(w.body.Bytes(), &p); err != nil || p.Code == "" {
		return frameError(rid, id, tkesj.Internal(nil), 0)
	}
	retry, _ := strconv.Atoi(w.header.Get("Retry-After"))
	return problemFrame(rid, id, p, retry)
}

// frameError is the error frame of err for the request frame id (none when
// the frame gave no usable id). It is what writeError would have written, as
// a frame.
func frameError(rid, id string, err error, retry int) []byte {
	var e *tkesj.Error
	if !errors.As(err, &e) || e.Kind == tkesj.EInternal {
		e = tkesj.Internal(nil)
	}
	status := statusOf(e.Kind)
	return problemFrame(rid, id, wire.Problem{Type: "urn:tkesj:problem:" + e.Code, Title: http.StatusText(status), Status: status, Detail: e.Message, Code: e.Code}, retry)
}

func problemFrame(rid, id string, p wire.Problem, retry int) []byte {
	// Marshalling a struct of strings and numbers cannot fail.
	b, _ := json.Marshal(wire.ErrorFrame{Type: "error", Code: p.Code, Detail: p.Detail, ID: id, Error: &p, RetryAfter: retry, RequestID: rid})
	return b
}

// writeString writes s as a JSON string.
func writeString(out *bytes.Buffer, s string) {
	b, _ := json.Marshal(s)
	out.Write(b)
}

// frameWriter is the ResponseWriter a request frame's route writes to.
type frameWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *frameWriter) Header() http.Header { return w.header }

func (w *frameWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *frameWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
