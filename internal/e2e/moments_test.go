package e2e

import (
	"fmt"
	"testing"
)

// R-MOM-1..4, R-MED-2: the visibility table through the public API: for each
// visibility and each relation to the author, who sees the post (directly and
// in the timeline) and its picture.
func TestMomentVisibilityTable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		author := s.register(t, "Author")
		friend, listed, excluded := s.register(t, "Friend"), s.register(t, "Listed"), s.register(t, "Excluded")
		stranger, blocked := s.register(t, "Stranger"), s.register(t, "Blocked")
		for _, p := range []person{friend, listed, excluded, blocked} {
			s.befriend(t, author, p)
		}
		want(t, s.do(t, author.Token, "PUT", "/api/v1/blocks/"+blocked.ID, nil), 204, "")

		post := func(kind string, users ...string) (string, string) {
			t.Helper()
			up := s.upload(t, author.Token, "", "p.jpg", photoWithGPS(t, 32, 32))
			want(t, up, 201, "")
			r := s.do(t, author.Token, "POST", "/api/v1/moments", map[string]any{"text": kind + " post", "media_ids": []string{up.str(t, "id")},
				"visibility": map[string]any{"kind": kind, "users": users}})
			want(t, r, 201, "")
			return r.str(t, "id"), up.str(t, "id")
		}
		posts := map[string][2]string{}
		for _, kind := range []string{"friends", "private"} {
			id, media := post(kind)
			posts[kind] = [2]string{id, media}
		}
		id, media := post("only", listed.ID)
		posts["only"] = [2]string{id, media}
		id, media = post("except", excluded.ID)
		posts["except"] = [2]string{id, media}

		viewers := map[string]person{"author": author, "friend": friend, "listed": listed, "excluded": excluded, "stranger": stranger, "blocked": blocked}
		table := []struct {
			visibility, viewer string
			sees               bool
		}{
			{"friends", "author", true}, {"friends", "friend", true}, {"friends", "listed", true}, {"friends", "excluded", true}, {"friends", "stranger", false}, {"friends", "blocked", false},
			{"only", "author", true}, {"only", "friend", false}, {"only", "listed", true}, {"only", "excluded", false}, {"only", "stranger", false}, {"only", "blocked", false},
			{"except", "author", true}, {"except", "friend", true}, {"except", "listed", true}, {"except", "excluded", false}, {"except", "stranger", false}, {"except", "blocked", false},
			{"private", "author", true}, {"private", "friend", false}, {"private", "listed", false}, {"private", "excluded", false}, {"private", "stranger", false}, {"private", "blocked", false},
		}
		timelines := map[string]map[string]bool{}
		for name, p := range viewers {
			timelines[name] = map[string]bool{}
			for _, m := range s.do(t, p.Token, "GET", "/api/v1/moments/timeline?limit=50", nil).JSON(t)["moments"].([]any) {
				timelines[name][m.(map[string]any)["id"].(string)] = true
			}
		}
		for _, row := range table {
			t.Run(fmt.Sprintf("R-MOM-2: a %s post is seen by the %s: %v", row.visibility, row.viewer, row.sees), func(t *testing.T) {
				p, ids := viewers[row.viewer], posts[row.visibility]
				status, mediaStatus := 404, 404
				if row.sees {
					status, mediaStatus = 200, 200
				}
				if row.viewer == "author" {
					mediaStatus = 200
				}
				if got := s.do(t, p.Token, "GET", "/api/v1/moments/"+ids[0], nil).Status; got != status {
					t.Errorf("GET the post = %d, want %d", got, status)
				}
				if got := s.get(t, p.Token, "/api/v1/media/"+ids[1]).Status; got != mediaStatus {
					t.Errorf("GET its picture = %d, want %d (R-MED-2)", got, mediaStatus)
				}
				if timelines[row.viewer][ids[0]] != row.sees {
					t.Errorf("in the timeline = %v, want %v (R-MOM-4)", timelines[row.viewer][ids[0]], row.sees)
				}
			})
		}
		// The audience list is the author's business only.
		if v := s.do(t, listed.Token, "GET", "/api/v1/moments/"+posts["only"][0], nil).JSON(t)["visibility"]; v != nil {
			t.Errorf("a listed friend is shown the audience: %v", v)
		}
		if v := s.do(t, author.Token, "GET", "/api/v1/moments/"+posts["only"][0], nil).JSON(t)["visibility"].(map[string]any); v["kind"] != "only" {
			t.Errorf("the author's view of visibility = %v", v)
		}
	})
}

// R-MOM-3: likes and comments show only when written by the viewer or a
// friend of the viewer, the WeChat rule; replies name the comment replied to.
func TestMomentInteractions(t *testing.T) {
	s := startServer(t, "sqlite")
	author, f1, f2 := s.register(t, "Author"), s.register(t, "FriendOne"), s.register(t, "FriendTwo")
	s.befriend(t, author, f1)
	s.befriend(t, author, f2) // f1 and f2 are not friends with each other
	r := s.do(t, author.Token, "POST", "/api/v1/moments", map[string]any{"text": "sunset"})
	want(t, r, 201, "")
	id := r.str(t, "id")
	ws := s.ws(t, author.Token)
	ws.next("ready")
	want(t, s.do(t, f1.Token, "POST", "/api/v1/moments/"+id+"/likes", nil), 200, "")
	if f := ws.next("moment_like"); f["user_id"] != f1.ID {
		t.Errorf("like notification = %v", f)
	}
	c1 := s.do(t, f1.Token, "POST", "/api/v1/moments/"+id+"/comments", map[string]any{"text": "beautiful"})
	want(t, c1, 201, "")
	ws.next("moment_comment")
	want(t, s.do(t, f2.Token, "POST", "/api/v1/moments/"+id+"/likes", nil), 200, "")
	want(t, s.do(t, f2.Token, "POST", "/api/v1/moments/"+id+"/comments", map[string]any{"text": "where is this?"}), 201, "")
	reply := s.do(t, author.Token, "POST", "/api/v1/moments/"+id+"/comments", map[string]any{"text": "Qingdao", "reply_to": c1.str(t, "id")})
	want(t, reply, 201, "")
	view := func(p person) (likes, comments []string) {
		m := s.do(t, p.Token, "GET", "/api/v1/moments/"+id, nil).JSON(t)
		for _, l := range m["likes"].([]any) {
			likes = append(likes, l.(map[string]any)["user"].(map[string]any)["nickname"].(string))
		}
		for _, c := range m["comments"].([]any) {
			comments = append(comments, c.(map[string]any)["text"].(string))
		}
		return
	}
	for _, tc := range []struct {
		who             person
		likes, comments string
	}{
		{author, "[FriendOne FriendTwo]", "[beautiful where is this? Qingdao]"},
		{f1, "[FriendOne]", "[beautiful Qingdao]"},
		{f2, "[FriendTwo]", "[where is this? Qingdao]"},
	} {
		l, c := view(tc.who)
		if fmt.Sprint(l) != tc.likes || fmt.Sprint(c) != tc.comments {
			t.Errorf("%s sees likes %v and comments %v; want %s and %s", tc.who.Username, l, c, tc.likes, tc.comments)
		}
	}
	m := s.do(t, author.Token, "GET", "/api/v1/moments/"+id, nil).JSON(t)
	if last := m["comments"].([]any)[2].(map[string]any); last["reply_to"] != c1.str(t, "id") {
		t.Errorf("reply = %v", last)
	}
	// R-DEL-1: a commenter deletes their comment; the author deletes anyone's.
	want(t, s.do(t, f2.Token, "DELETE", "/api/v1/moments/"+id+"/comments/"+c1.str(t, "id"), nil), 404, "not_found")
	want(t, s.do(t, f1.Token, "DELETE", "/api/v1/moments/"+id+"/comments/"+c1.str(t, "id"), nil), 204, "")
	want(t, s.do(t, f1.Token, "DELETE", "/api/v1/moments/"+id+"/likes", nil), 204, "")
	if l, c := view(author); fmt.Sprint(l) != "[FriendTwo]" || len(c) != 2 {
		t.Errorf("after deletions the author sees %v and %v", l, c)
	}
	want(t, s.do(t, f1.Token, "POST", "/api/v1/moments/"+id+"/comments", map[string]any{"text": "x", "reply_to": "knothere"}), 422, "invalid_reply")
}

// R-MOM-2: "hide my posts from someone" and "don't show me someone's posts".
func TestMomentHideAndMute(t *testing.T) {
	s := startServer(t, "sqlite")
	a, f := s.register(t, "A"), s.register(t, "F")
	s.befriend(t, a, f)
	id := s.do(t, a.Token, "POST", "/api/v1/moments", map[string]any{"text": "hello"}).str(t, "id")
	want(t, s.do(t, a.Token, "PUT", "/api/v1/me/moments-hidden-from/"+f.ID, nil), 204, "")
	want(t, s.do(t, f.Token, "GET", "/api/v1/moments/"+id, nil), 404, "not_found")
	want(t, s.do(t, a.Token, "DELETE", "/api/v1/me/moments-hidden-from/"+f.ID, nil), 204, "")
	want(t, s.do(t, f.Token, "GET", "/api/v1/moments/"+id, nil), 200, "")
	want(t, s.do(t, f.Token, "PUT", "/api/v1/me/moments-muted/"+a.ID, nil), 204, "")
	if ms := s.do(t, f.Token, "GET", "/api/v1/moments/timeline", nil).JSON(t)["moments"].([]any); len(ms) != 0 {
		t.Errorf("a muted person's posts are in the timeline: %v", ms)
	}
	// Muting only tidies the timeline; the album still shows them.
	if ms := s.do(t, f.Token, "GET", "/api/v1/users/"+a.ID+"/moments", nil).JSON(t)["moments"].([]any); len(ms) != 1 {
		t.Errorf("album of a muted friend = %v", ms)
	}
}

// R-MOM-4: the timeline is newest first and pages without gaps or repeats.
func TestTimelinePages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := startServer(t, b)
		a, f := s.register(t, "A"), s.register(t, "F")
		s.befriend(t, a, f)
		var posted []string
		for i := 0; i < 23; i++ {
			p := a
			if i%3 == 0 {
				p = f
			}
			posted = append(posted, s.do(t, p.Token, "POST", "/api/v1/moments", map[string]any{"text": fmt.Sprint("post ", i)}).str(t, "id"))
		}
		var got []string
		cursor := ""
		for pages := 0; pages < 10; pages++ {
			r := s.do(t, a.Token, "GET", "/api/v1/moments/timeline?limit=10&cursor="+cursor, nil)
			want(t, r, 200, "")
			m := r.JSON(t)
			for _, x := range m["moments"].([]any) {
				got = append(got, x.(map[string]any)["id"].(string))
			}
			next, _ := m["next_cursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(got) != 23 {
			t.Fatalf("paged through %d posts, want 23", len(got))
		}
		for i := range got {
			if got[i] != posted[22-i] {
				t.Fatalf("position %d holds %s, want %s (newest first)", i, got[i], posted[22-i])
			}
		}
		want(t, s.do(t, a.Token, "GET", "/api/v1/moments/timeline?cursor=garbage!", nil), 422, "invalid_cursor")
	})
}

// R-MOM-1, R-PRM-2, R-DEL-1: a location in a post needs the permission; at
// most 9 pictures; deleting a post deletes its comments, likes and media.
func TestMomentRulesAndDeletion(t *testing.T) {
	s := startServer(t, "sqlite")
	a, f := s.register(t, "A"), s.register(t, "F")
	s.befriend(t, a, f)
	loc := map[string]any{"text": "here", "location": map[string]any{"lat": 31.2, "lng": 121.5, "name": "Bund"}}
	want(t, s.do(t, a.Token, "POST", "/api/v1/moments", loc), 403, "permission_revoked")
	want(t, s.do(t, a.Token, "PUT", "/api/v1/me/permissions/location", map[string]any{"granted": true}), 200, "")
	want(t, s.do(t, a.Token, "POST", "/api/v1/moments", loc), 201, "")
	var ten []string
	for i := 0; i < 10; i++ {
		ten = append(ten, s.upload(t, a.Token, "", "p.jpg", photoWithGPS(t, 16, 16)).str(t, "id"))
	}
	want(t, s.do(t, a.Token, "POST", "/api/v1/moments", map[string]any{"media_ids": ten}), 422, "too_many_media")
	want(t, s.do(t, a.Token, "POST", "/api/v1/moments", map[string]any{"text": ""}), 422, "empty_post")
	want(t, s.do(t, a.Token, "POST", "/api/v1/moments", map[string]any{"text": "x", "visibility": map[string]any{"kind": "only"}}), 422, "invalid_visibility")
	want(t, s.do(t, a.Token, "POST", "/api/v1/moments", map[string]any{"text": "x", "visibility": map[string]any{"kind": "public"}}), 422, "invalid_visibility")
	want(t, s.do(t, f.Token, "POST", "/api/v1/moments", map[string]any{"media_ids": ten[:1]}), 422, "invalid_media")

	r := s.do(t, a.Token, "POST", "/api/v1/moments", map[string]any{"text": "to delete", "media_ids": ten[:2]})
	want(t, r, 201, "")
	id := r.str(t, "id")
	want(t, s.do(t, f.Token, "POST", "/api/v1/moments/"+id+"/comments", map[string]any{"text": "nice"}), 201, "")
	want(t, s.do(t, f.Token, "POST", "/api/v1/moments/"+id+"/likes", nil), 200, "")
	want(t, s.get(t, f.Token, "/api/v1/media/"+ten[0]), 200, "")
	want(t, s.do(t, f.Token, "DELETE", "/api/v1/moments/"+id, nil), 404, "not_found")
	want(t, s.do(t, a.Token, "DELETE", "/api/v1/moments/"+id, nil), 204, "")
	want(t, s.do(t, f.Token, "GET", "/api/v1/moments/"+id, nil), 404, "not_found")
	want(t, s.get(t, a.Token, "/api/v1/media/"+ten[0]), 404, "not_found")
	want(t, s.do(t, f.Token, "POST", "/api/v1/moments/"+id+"/likes", nil), 404, "not_found")
}
