package wire

import (
	"encoding/json"
	"testing"
)

// The shapes that a struct tag cannot say are written as API.md has them.
func TestMarshalSpecialShapes(t *testing.T) {
	text := ""
	seq := int64(0)
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"a deleted peer is its id alone", Peer{PublicUser: PublicUser{ID: "u1", Nickname: "gone"}, Deleted: true}, `{"id":"u1","deleted":true}`},
		{"a peer is a public user", Peer{PublicUser: PublicUser{ID: "u1"}}, `{"id":"u1","username":"","nickname":"","gender":"","avatar_url":""}`},
		{"a time not yet come is null", Restriction{Kind: "ban"}, `{"kind":"ban","until":null,"decision_id":""}`},
		{"a suppressed count is <k", DayCount{Day: "d", Count: Count{Suppressed: "<5"}}, `{"day":"d","count":"\u003c5"}`},
		{"a count is a number", KindCount{Kind: "text", Count: Count{N: 7}}, `{"kind":"text","count":7}`},
		{"an empty text message keeps its text", Message{ID: "m", Text: &text}, `{"id":"m","seq":0,"conversation_id":"","sent_at":"","text":""}`},
		{"a receipt at seq 0 names it", ReceiptFrame{Type: "receipt", ReadSeq: &seq}, `{"type":"receipt","conversation_id":"","user_id":"","read_seq":0}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.v)
			if err != nil || string(b) != c.want {
				t.Errorf("json.Marshal(%+v) = %s, %v; want %s", c.v, b, err, c.want)
			}
		})
	}
}

// Schemas follows encoding/json: omitempty is optional, a pointer without it
// may be null, embedded fields are promoted, named structs are referenced.
func TestSchemas(t *testing.T) {
	type inner struct {
		A string `json:"a"`
	}
	type outer struct {
		inner
		B *string `json:"b"`
		C int     `json:"c,omitempty" doc:"see"`
		D Session `json:"d"`
		e string
	}
	got := Schemas(outer{})
	o, _ := json.Marshal(got["outer"])
	want := `{"properties":{"a":{"type":"string"},"b":{"oneOf":[{"type":"string"},{"type":"null"}]},"c":{"description":"see","type":"integer"},"d":{"$ref":"#/components/schemas/Session"}},"required":["a","b","d"],"type":"object"}`
	if string(o) != want {
		t.Errorf("Schemas(outer) = %s\nwant %s", o, want)
	}
	if _, ok := got["User"]; !ok {
		t.Errorf("Schemas(outer) did not bring along User, which Session holds")
	}
}
