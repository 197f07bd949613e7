package httpapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tkesj/tkesj/internal/wire"
)

var update = flag.Bool("update", false, "rewrite openapi.json's generated schemas from the wire structs")

// wireTypes are the answers and WebSocket frames whose schemas openapi.json
// holds, generated from the structs; the structs they contain come along.
var wireTypes = []any{
	wire.Problem{},
	wire.Status{}, wire.Accepted{}, wire.Policy{}, wire.User{}, wire.Me{}, wire.Session{}, wire.DeviceList{}, wire.Permissions{},
	wire.PermissionState{}, wire.ConsentList{}, wire.Settings{}, wire.PublicUser{}, wire.UserList{}, wire.ContactList{},
	wire.BlockedList{}, wire.FriendRequest{}, wire.FriendRequestList{}, wire.Conversation{}, wire.ConversationList{},
	wire.Muted{}, wire.Message{}, wire.MessageList{}, wire.SearchResults{}, wire.Pinned{}, wire.Favorite{}, wire.FavoriteList{}, wire.Forwarded{},
	wire.Moment{}, wire.MomentPage{}, wire.Liked{}, wire.Media{}, wire.QRCode{}, wire.QRScanResult{}, wire.JoinRequestList{},
	wire.QRJoin{}, wire.GroupQR{}, wire.JoinApproval{}, wire.LoginQR{}, wire.LoginQRRequester{}, wire.LoginQRAnswer{},
	wire.LoginQRPoll{}, wire.Export{}, wire.ExportList{}, wire.RightsRequest{}, wire.RightsRequestList{}, wire.DecisionList{},
	wire.VAPIDKey{}, wire.WSTicket{},
	wire.StaffSelf{}, wire.StaffList{}, wire.StaffUser{}, wire.AccessLog{}, wire.AuditLog{}, wire.StaffRightsRequestList{},
	wire.LegalProcessing{}, wire.HoldList{}, wire.IncidentList{}, wire.NoticeList{}, wire.ReportList{}, wire.Moderation{},
	wire.Enforcement{}, wire.LegalGroundList{}, wire.AnnouncementList{}, wire.Statistics{}, wire.TicketList{},
	wire.RecipientList{}, wire.SharingRecordList{}, wire.SharingReport{}, wire.ConsentChange{}, wire.Transfers{}, wire.ShareLink{},
	wire.CallJoined{}, wire.CallAnswer{},
	// WebSocket frames, server to client and client to server, and the Web Push payload.
	wire.ReadyFrame{}, wire.MessageFrame{}, wire.RecallFrame{}, wire.ReceiptFrame{}, wire.TypingFrame{}, wire.ConversationFrame{},
	wire.FriendRequestFrame{}, wire.MomentLikeFrame{}, wire.MomentCommentFrame{}, wire.AnnouncementFrame{}, wire.PolicyFrame{},
	wire.NoticeFrame{}, wire.RightsRequestFrame{}, wire.SecurityFrame{}, wire.JoinRequestFrame{}, wire.TicketFrame{},
	wire.PongFrame{}, wire.ErrorFrame{}, wire.ClientFrame{}, wire.SentFrame{}, wire.PushPayload{},
	wire.CallFrame{}, wire.CallSignalFrame{}, wire.CallClientFrame{},
	// Signed webhooks to recipients of shared data.
	wire.ShareDelivery{}, wire.DeletionNotice{},
}

// requestSchemas are written by hand in openapi.json: request bodies, with
// the limits (lengths, patterns) a struct tag does not carry. Every other
// schema is generated.
var requestSchemas = []string{"Device", "CodeRequest", "Registration", "Login", "UserUpdate", "Reverification",
	"PermissionChange", "NewMessage", "SendFrame", "QRScan", "QRPayload", "LoginQRRequest", "NewCall", "CallMediaChange"}

// openapi.json's schemas are the wire structs' (frames included): a change
// to a struct that is not in the document fails here; `go test
// ./internal/httpapi -run TestOpenAPISchemasMatchWire -update` rewrites them.
// The web client's types are generated from the document (web/src/api-types.ts).
func TestOpenAPISchemasMatchWire(t *testing.T) {
	generated := wire.Schemas(wireTypes...)
	var doc struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	for _, name := range requestSchemas {
		if _, dup := generated[name]; dup {
			t.Errorf("%s is both written by hand and generated from a wire struct", name)
		}
	}
	if *update {
		out := map[string]any{}
		for _, name := range requestSchemas {
			if s, ok := doc.Components.Schemas[name]; ok {
				out[name] = s
			}
		}
		for name, s := range generated {
			out[name] = roundTrip(t, s)
		}
		b, err := spliceSchemas(openAPI, out)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("openapi.json", b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote openapi.json's schemas; regenerate the web client's types with 'cd web && npm run api-types'")
		return
	}
	var names []string
	for name := range generated {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		want := roundTrip(t, generated[name])
		got, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("openapi.json has no schema %s; run this test with -update", name)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Errorf("openapi.json's schema %s differs from wire.%s; run this test with -update\n got: %s\nwant: %s", name, name, g, w)
		}
	}
	for name := range doc.Components.Schemas {
		if _, ok := generated[name]; !ok && !slices.Contains(requestSchemas, name) {
			t.Errorf("openapi.json's schema %s is neither generated from a wire struct nor a request body written by hand", name)
		}
	}
	// Every reference in the document resolves.
	for _, m := range regexp.MustCompile(`"#/components/schemas/([A-Za-z0-9]+)"`).FindAllSubmatch(openAPI, -1) {
		if _, ok := doc.Components.Schemas[string(m[1])]; !ok {
			t.Errorf("openapi.json refers to a schema %s it does not have", m[1])
		}
	}
}

// roundTrip is v as encoding/json reads it back, to compare with the document.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

// spliceSchemas replaces the components.schemas object of the document's text
// with schemas, leaving the rest of the file as it is written (one-space
// indentation, keys in the order people put them).
func spliceSchemas(docText []byte, schemas map[string]any) ([]byte, error) {
	const key = "\n  \"schemas\": {"
	start := bytes.Index(docText, []byte(key))
	if start < 0 {
		return nil, os.ErrNotExist
	}
	open := start + len(key) - 1
	end := matchingBrace(docText, open)
	var names []string
	for name := range schemas {
		names = append(names, name)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("{")
	for i, name := range names {
		if i > 0 {
			b.WriteString(",")
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("   ", " ")
		if err := enc.Encode(schemas[name]); err != nil {
			return nil, err
		}
		b.WriteString("\n   \"" + name + "\": " + strings.TrimSuffix(buf.String(), "\n"))
	}
	b.WriteString("\n  }")
	out := append([]byte{}, docText[:open]...)
	out = append(out, b.String()...)
	return append(out, docText[end+1:]...), nil
}

// matchingBrace is the index of the brace that closes the one at open.
func matchingBrace(b []byte, open int) int {
	depth, inString := 0, false
	for i := open; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && c == '{':
			depth++
		case !inString && c == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(b) - 1
}
