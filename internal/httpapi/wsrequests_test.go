package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tkesj/tkesj"
)

// A request frame runs a route of the table, and only one that
// authenticates: the socket's session is checked again by the route's own
// authentication gate, so a route without one would run unauthenticated.
// Every field the frame maps to a path value names one of the route's.
func TestRequestFramesRunBearerRoutes(t *testing.T) {
	table := map[string]route{}
	for _, rt := range (&server{}).routes() {
		table[rt.pattern] = rt
	}
	for typ, rf := range requestFrames {
		rt, ok := table[rf.route]
		if !ok {
			t.Errorf("request frame %q runs %q, which is not in the route table", typ, rf.route)
			continue
		}
		if rt.auth != bearer && rt.auth != bearerOrQuery {
			t.Errorf("request frame %q runs %q, whose auth gate is %d; want a route that authenticates", typ, rf.route, rt.auth)
		}
		for field, name := range rf.params {
			if !strings.Contains(rf.route, "{"+name+"}") {
				t.Errorf("request frame %q maps %q to path value %q, which %q does not have", typ, field, name, rf.route)
			}
		}
		if n := strings.Count(rf.route, "{"); n != len(rf.params) {
			t.Errorf("request frame %q fills %d of the %d path values of %q", typ, len(rf.params), n, rf.route)
		}
		if rf.answer == "" || rf.answer == "error" || rf.field == "" || rf.field == "type" || rf.field == "id" || rf.field == "created" {
			t.Errorf("request frame %q answers with type %q carrying %q; want a type and field of their own", typ, rf.answer, rf.field)
		}
	}
}

// FuzzRequestFrame (issue 17): whatever a client sends as a send frame, the
// frame parser and the answer around the route never panic, always answer
// with one JSON frame (sent, or error with a code a client can act on, never
// internal), and repeat the frame's id whenever the frame gave a usable one.
// The route here is a stand-in with the real decoding (handleJSON), so the
// fuzzer reaches the body's limits and unknown-field rules.
func FuzzRequestFrame(f *testing.F) {
	type body struct {
		ClientID string `json:"client_id"`
		Kind     string `json:"kind"`
		Text     string `json:"text"`
	}
	rf := requestFrames["send"]
	s := &server{log: slog.New(slog.DiscardHandler), frameRoutes: map[string]http.Handler{}}
	s.frameRoutes[rf.route] = handleJSON(s, http.StatusCreated, func(r *http.Request, b body) (any, error) {
		if b.Kind == "" || b.ClientID == "" {
			return nil, errorf(tkesj.EInvalid, "missing_field", "client_id and kind are required")
		}
		return map[string]any{"id": "m1", "seq": 1, "conversation_id": r.PathValue("id"), "text": b.Text}, nil
	})
	for _, seed := range []string{
		`{"type":"send","id":"f1","conversation_id":"c1","client_id":"x","kind":"text","text":"hi"}`,
		`{"type":"send","id":"f1","conversation_id":"c/../1?x#y","client_id":"x","kind":"text","text":"hi"}`,
		`{"type":"send","id":"f1","conversation_id":"c1","client_id":"x","kind":"text","text":"hi","extra":[1,{"a":null}]}`,
		`{"type":"send","id":7,"conversation_id":"c1"}`,
		`{"type":"send","id":"f1","conversation_id":{"a":1}}`,
		`{"type":"send","id":"f1","id":"f2","conversation_id":"c1","kind":"text","client_id":"x"}`,
		`{"type":"send","id":"\u0000","conversation_id":"\ud800","client_id":"x","kind":"text"}`,
		`{"type":"send"}`, `{}`, `null`, `[]`, `"send"`, `{"type":"send","id":"f1",`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, frame string) {
		out := s.answerFrame(context.Background(), []byte("hash"), rf, []byte(frame))
		var got struct {
			Type    string          `json:"type"`
			ID      *string         `json:"id"`
			Code    string          `json:"code"`
			Created *bool           `json:"created"`
			Message json.RawMessage `json:"message"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("answer to %q = %q, not a JSON object: %v", frame, out, err)
		}
		switch got.Type {
		case "sent":
			if got.Created == nil || got.ID == nil || len(got.Message) == 0 {
				t.Fatalf("sent answer %s lacks id, message or created", out)
			}
		case "error":
			if got.Code == "" || got.Code == "internal" {
				t.Fatalf("answer to %q = %s, want a code a client can act on", frame, out)
			}
		default:
			t.Fatalf("answer to %q = %s, want a sent or an error frame", frame, out)
		}
		var in struct {
			ID json.RawMessage `json:"id"`
		}
		var id string
		if json.Unmarshal([]byte(frame), &in) == nil && json.Unmarshal(in.ID, &id) == nil && id != "" && len(id) <= maxFrameID && utf8.ValidString(id) {
			if got.ID == nil || *got.ID != id {
				t.Fatalf("answer to %q = %s, want the frame's id %q", frame, out, id)
			}
		}
	})
}
