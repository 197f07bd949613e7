package attack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"mime/multipart"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// The authorization walk: the owner builds up private things (a chat with a
// friend, a private post with a comment, a picture, a favourite, an export,
// a friend request, a support ticket); then two outsiders (a stranger, and
// someone the friend knows but the owner does not) call every route of the
// OpenAPI document that takes an id, with each of the owner's ids in every
// slot and every method. No answer may hold the owner's secrets, no answer
// may be a 500, and afterwards the owner's things are all still there.
func TestAuthorizationWalk(t *testing.T) {
	defer budget(t, time.Now(), 4*time.Minute)
	s := start(t)
	owner, friend := s.register(t, "Owner Ou"), s.register(t, "Friend Fu")
	stranger, friendOfFriend := s.register(t, "Stranger Su"), s.register(t, "Fof Fo")
	s.befriend(t, owner, friend)
	s.befriend(t, friend, friendOfFriend)

	secret := fmt.Sprintf("SECRET%d", time.Now().UnixNano())
	ids := map[string]string{"owner": owner.ID}
	conv := must(t, s.do(t, owner.Token, "POST", "/api/v1/conversations", map[string]any{"kind": "direct", "members": []string{friend.ID}}), 201, "direct chat").str("id")
	ids["conversation"] = conv
	msg := must(t, s.do(t, owner.Token, "POST", "/api/v1/conversations/"+conv+"/messages",
		map[string]any{"client_id": "walk-1", "kind": "text", "text": secret + " message"}), 201, "message").json()
	ids["message"] = msg["id"].(string)
	ids["seq"] = fmt.Sprint(msg["seq"])
	media := s.uploadPicture(t, owner)
	ids["media"] = media
	moment := must(t, s.do(t, owner.Token, "POST", "/api/v1/moments", map[string]any{"text": secret + " moment",
		"media_ids": []string{media}, "visibility": map[string]any{"kind": "private"}}), 201, "private moment").str("id")
	ids["moment"] = moment
	ids["comment"] = must(t, s.do(t, owner.Token, "POST", "/api/v1/moments/"+moment+"/comments", map[string]any{"text": secret + " comment"}), 201, "comment").str("id")
	if r := s.do(t, owner.Token, "POST", "/api/v1/me/favorites", map[string]any{"conversation_id": conv, "seq": msg["seq"]}); r.Status == 201 {
		ids["favorite"] = r.str("id")
	}
	if r := s.do(t, owner.Token, "POST", "/api/v1/me/exports", nil); r.Status == 202 {
		ids["export"] = r.str("id")
	}
	if r := s.do(t, owner.Token, "POST", "/api/v1/friend-requests", map[string]any{"to": s.register(t, "Target Ta").ID, "greeting": secret + " greeting"}); r.Status == 201 {
		ids["friend_request"] = r.str("id")
	}
	if r := s.do(t, owner.Token, "POST", "/api/v1/me/tickets", map[string]any{"subject": secret + " ticket", "body": secret + " ticket body", "category": "other"}); r.Status == 201 {
		ids["ticket"] = r.str("id")
	}
	group := s.do(t, owner.Token, "POST", "/api/v1/conversations", map[string]any{"kind": "group", "name": secret + " group", "members": []string{friend.ID}})
	if group.Status == 201 {
		ids["group"] = group.str("id")
	}
	pool := make([]string, 0, len(ids))
	for _, v := range ids {
		pool = append(pool, v)
	}
	sort.Strings(pool)

	routes := s.routes(t)
	param := regexp.MustCompile(`\{[^}]+\}`)
	var requests, fives int
	var leaks []string
	for _, who := range []person{stranger, friendOfFriend} {
		for _, rt := range routes {
			if !param.MatchString(rt.path) || strings.HasPrefix(rt.path, "/s/") {
				continue // the owner's own routes are not the outsider's; share links are capabilities
			}
			for _, id := range pool {
				path := param.ReplaceAllString(rt.path, id)
				var body any
				if rt.method != "GET" && rt.method != "DELETE" {
					body = map[string]any{}
				}
				r := s.do(t, who.Token, rt.method, path, body)
				requests++
				if r.Status >= 500 {
					fives++
					t.Errorf("%s %s as %s = %d, a server error for an outsider's request", rt.method, rt.path, who.Nick, r.Status)
				}
				if bytes.Contains(r.Body, []byte(secret)) || bytes.Contains(r.Body, []byte(owner.Phone[3:])) {
					leaks = append(leaks, fmt.Sprintf("%s %s (%s) as %s = %d", rt.method, rt.path, id, who.Nick, r.Status))
				}
				if (rt.path == "/api/v1/media/{id}" || strings.HasPrefix(rt.path, "/api/v1/media/{id}/")) && id == media && r.Status < 300 {
					leaks = append(leaks, fmt.Sprintf("%s %s as %s = %d: the owner's private picture", rt.method, path, who.Nick, r.Status))
				}
			}
		}
	}
	t.Logf("authorization walk: %d requests over %d routes as 2 outsiders with %d of the owner's ids: %d leaks, %d server errors", requests, len(routes), len(pool), len(leaks), fives)
	for _, l := range leaks {
		t.Errorf("leak: %s", l)
	}

	// Nothing of the owner's was changed by the walk.
	if r := s.do(t, owner.Token, "GET", "/api/v1/conversations/"+conv+"/messages?after_seq=0", nil); !bytes.Contains(r.Body, []byte(secret+" message")) {
		t.Errorf("after the walk the owner's message is gone: %d %s", r.Status, r.Body)
	}
	if r := s.do(t, owner.Token, "GET", "/api/v1/moments/"+moment, nil); r.Status != 200 || !bytes.Contains(r.Body, []byte(secret+" comment")) {
		t.Errorf("after the walk the owner's post or its comment is gone: %d", r.Status)
	}
	if r := s.do(t, owner.Token, "GET", "/api/v1/media/"+media, nil); r.Status != 200 {
		t.Errorf("after the walk the owner's picture is gone: %d", r.Status)
	}
	if r := s.do(t, owner.Token, "GET", "/api/v1/me", nil); r.Status != 200 {
		t.Errorf("after the walk the owner's session is gone: %d", r.Status)
	}
}

type route struct{ method, path string }

// routes lists every method and path of the served OpenAPI document.
func (s *server) routes(t *testing.T) []route {
	t.Helper()
	r := must(t, s.do(t, "", "GET", "/api/v1/openapi.json", nil), 200, "openapi.json")
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		t.Fatal(err)
	}
	var out []route
	for p, ops := range doc.Paths {
		for m := range ops {
			switch m = strings.ToUpper(m); m {
			case "GET", "POST", "PUT", "PATCH", "DELETE":
				out = append(out, route{m, p})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path+out[i].method < out[j].path+out[j].method })
	return out
}

// uploadPicture uploads a small JPEG as p and returns its media id.
func (s *server) uploadPicture(t *testing.T, p person) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 32, 24))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	img.Set(0, 0, color.RGBA{1, 2, 3, 255})
	var pic bytes.Buffer
	jpeg.Encode(&pic, img, nil)
	r := s.upload(t, p.Token, "p.jpg", pic.Bytes())
	must(t, r, 201, "upload")
	return r.str("id")
}

func (s *server) upload(t testing.TB, token, name string, content []byte) response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/media", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b.Bytes(), Took: time.Since(t0)}
}
