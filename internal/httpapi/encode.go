package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/tkesj/tkesj"
	"github.com/tkesj/tkesj/internal/wire"
)

// maxJSONBody caps every JSON request body.
const maxJSONBody = 64 << 10

// decode reads one JSON object into v: at most maxJSONBody bytes, no unknown
// fields, nothing after it. Every failure is a problem a person can act on.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return decodeError(err)
		}
		return tkesj.Errorf(tkesj.EMalformed, "malformed_json", "the body must hold exactly one JSON object, with nothing after it")
	}
	return nil
}

func decodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tkesj.Errorf(tkesj.ETooLarge, "body_too_large", "the body is larger than %d bytes", mbe.Limit)
	case errors.Is(err, io.EOF):
		return tkesj.Errorf(tkesj.EMalformed, "malformed_json", "the body is empty; send a JSON object")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return tkesj.Errorf(tkesj.EMalformed, "malformed_json", "the body is not valid JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return tkesj.Errorf(tkesj.EMalformed, "malformed_json", "the body must be a JSON object")
		}
		return tkesj.Errorf(tkesj.EInvalid, "invalid_field", "field %q must be of type %s", typ.Field, jsonType(typ.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return tkesj.Errorf(tkesj.EInvalid, "unknown_field", "field %s is not accepted here", name)
	}
	return tkesj.Errorf(tkesj.EMalformed, "malformed_json", "the body could not be read as JSON")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// statusOf maps an error kind to its HTTP status; the one place that does.
func statusOf(k tkesj.ErrorKind) int {
	switch k {
	case tkesj.EMalformed:
		return http.StatusBadRequest
	case tkesj.EInvalid:
		return http.StatusUnprocessableEntity
	case tkesj.EUnauthenticated:
		return http.StatusUnauthorized
	case tkesj.EForbidden:
		return http.StatusForbidden
	case tkesj.ENotFound:
		return http.StatusNotFound
	case tkesj.EMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case tkesj.EConflict:
		return http.StatusConflict
	case tkesj.EGone:
		return http.StatusGone
	case tkesj.ETooLarge:
		return http.StatusRequestEntityTooLarge
	case tkesj.EUnsupported:
		return http.StatusUnsupportedMediaType
	case tkesj.EUnsatisfiable:
		return http.StatusRequestedRangeNotSatisfiable
	case tkesj.ERateLimited:
		return http.StatusTooManyRequests
	case tkesj.EUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// statusClientClosed is nginx's "client closed request", for the access log.
const statusClientClosed = 499

// writeError writes err as a problem document. Errors that are not *tkesj.Error
// are internal: logged here, and shown to the client without detail.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if bodyTooSlow(r) {
		err = errBodyTooSlow // whatever the handler made of the failed read
		// The rest of the body will not come: answer and close, rather than
		// let the server wait to read it before answering.
		w.Header().Set("Connection", "close")
	} else if r.Context().Err() != nil {
		// The client went away (issue 14 item 11): nothing is wrong on our
		// side and nobody reads an answer. Logged as what it is, and 499 (as
		// nginx counts it) in the access log, never an ERROR and a 500.
		log.InfoContext(r.Context(), "request abandoned by the client", "route", r.Pattern)
		w.WriteHeader(statusClientClosed)
		return
	}
	var e *tkesj.Error
	if !errors.As(err, &e) {
		log.ErrorContext(r.Context(), "unhandled error", "err", err.Error())
		e = tkesj.Internal(err)
	}
	status := statusOf(e.Kind)
	if e.Kind == tkesj.ERateLimited && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Seconds())))
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="tkesj"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(wire.Problem{
		Type: "urn:tkesj:problem:" + e.Code, Title: http.StatusText(status), Status: status, Detail: e.Message, Code: e.Code,
	})
}

// errorf is a shortcut for handlers' own problems.
func errorf(kind tkesj.ErrorKind, code, format string, args ...any) error {
	return &tkesj.Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}
